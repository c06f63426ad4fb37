import { describe, expect, it } from 'vitest';
import { atLeast, grantableRoles } from './OrgContext';

describe('roles (docs/permissions.md)', () => {
  it('orders owner > admin > member > viewer', () => {
    expect(atLeast('owner', 'admin')).toBe(true);
    expect(atLeast('admin', 'admin')).toBe(true);
    expect(atLeast('member', 'admin')).toBe(false);
    expect(atLeast('viewer', 'member')).toBe(false);
    expect(atLeast('viewer', 'viewer')).toBe(true);
  });

  it('lets owners grant any role, admins any but owner, others none', () => {
    expect(grantableRoles('owner')).toEqual(['owner', 'admin', 'member', 'viewer']);
    expect(grantableRoles('admin')).toEqual(['admin', 'member', 'viewer']);
    expect(grantableRoles('member')).toEqual([]);
    expect(grantableRoles('viewer')).toEqual([]);
  });
});
