// Tests' providers: a signed-in (or not) Auth, an AppState around a fake Api, an org.
import type { ReactNode } from 'react';
import { vi } from 'vitest';
import type { User } from 'oidc-client-ts';
import type { Api, Org, Role } from '../api/client';
import { AnnouncerProvider } from '../app/Announcer';
import { AppContext } from '../app/AppContext';
import { OrgContext } from '../app/OrgContext';
import { AuthContext, type Auth } from '../auth/AuthContext';

export function fakeAuth(overrides: Partial<Auth> = {}): Auth {
  return {
    user: { access_token: 'tok', profile: { sub: 'u1', email: 'a@x.test' } } as unknown as User,
    loading: false,
    signingOut: false,
    signIn: vi.fn(async () => undefined),
    signOut: vi.fn(async () => undefined),
    refresh: vi.fn(async () => false),
    getAccessToken: () => 'tok',
    ...overrides,
  };
}

export const kOrg: Org = {
  id: 'org-1',
  slug: 'acme',
  name: 'Acme',
  created_by: 'u1',
  created_at: '2026-11-24T10:00:00.000Z',
  updated_at: '2026-11-24T10:00:00.000Z',
  version: 1,
  role: 'owner',
};

export function Providers({
  auth = fakeAuth(),
  api,
  role = 'owner',
  children,
}: {
  auth?: Auth;
  api: Partial<Api>;
  role?: Role;
  children: ReactNode;
}) {
  return (
    <AuthContext.Provider value={auth}>
      <AppContext.Provider
        value={{
          api: api as Api,
          me: {
            kind: 'user',
            user: { id: 'u1', email: 'a@x.test', name: 'A', created_at: kOrg.created_at },
          },
          orgs: [kOrg],
          orgsError: null,
          reloadOrgs: async () => undefined,
        }}
      >
        <OrgContext.Provider value={{ org: kOrg, role }}>
          <AnnouncerProvider>{children}</AnnouncerProvider>
        </OrgContext.Provider>
      </AppContext.Provider>
    </AuthContext.Provider>
  );
}
