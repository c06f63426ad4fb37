// The org a page is about (`/orgs/:org/...`) and the caller's role in it, which decides what
// the screens offer (docs/permissions.md).
import { createContext, useContext } from 'react';
import type { Org, Role } from '../api/client';

export interface OrgState {
  org: Org;
  role: Role;
}

export const OrgContext = createContext<OrgState | null>(null);

export function useOrg(): OrgState {
  const org = useContext(OrgContext);
  if (!org) throw new Error('useOrg outside an org route');
  return org;
}

const kRank: Record<Role, number> = { owner: 4, admin: 3, member: 2, viewer: 1 };

/** Whether `role` is at least `needed` (owner > admin > member > viewer). */
export function atLeast(role: Role, needed: Role): boolean {
  return kRank[role] >= kRank[needed];
}

/** The roles `role` may grant: an owner any, an admin any but owner, others none. */
export function grantableRoles(role: Role): Role[] {
  if (role === 'owner') return ['owner', 'admin', 'member', 'viewer'];
  if (role === 'admin') return ['admin', 'member', 'viewer'];
  return [];
}

const kLastOrgKey = 'trellis.lastOrg';

export function rememberOrg(id: string): void {
  try {
    window.localStorage.setItem(kLastOrgKey, id);
  } catch {
    // Storage may be disabled; the landing page then picks the first org.
  }
}

export function lastOrg(): string | null {
  try {
    return window.localStorage.getItem(kLastOrgKey);
  } catch {
    return null;
  }
}
