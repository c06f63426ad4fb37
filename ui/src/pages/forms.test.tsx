import { fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { describe, expect, it, vi } from 'vitest';
import type { Api, Member } from '../api/client';
import { ApiError } from '../api/errors';
import { Providers } from '../test/contexts';
import { safeReturnTo } from './AuthCallback';
import { Members } from './Members';
import { NewOrg } from './NewOrg';

describe('NewOrg', () => {
  it('suggests a slug and shows field errors next to their fields', async () => {
    const createOrg = vi.fn(async () => {
      throw new ApiError({
        status: 422,
        type: 'https://trellis.dev/problems/validation',
        detail: 'invalid body',
        fieldErrors: [{ pointer: '/slug', detail: 'must be 3 to 40 characters' }],
      });
    });
    render(
      <MemoryRouter>
        <Providers api={{ createOrg } as Partial<Api>}>
          <NewOrg />
        </Providers>
      </MemoryRouter>,
    );
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Acme Corp!' } });
    const slug = screen.getByLabelText(/Short name/) as HTMLInputElement;
    expect(slug.value).toBe('acme-corp');
    fireEvent.click(screen.getByRole('button', { name: 'Create organization' }));
    expect(await screen.findByText('must be 3 to 40 characters')).toBeTruthy();
    expect(slug.getAttribute('aria-invalid')).toBe('true');
    expect(slug.getAttribute('aria-describedby')).toContain('org-slug-error');
    expect(document.getElementById('org-slug-error')?.textContent).toBe(
      'must be 3 to 40 characters',
    );
    expect(createOrg).toHaveBeenCalledWith({ name: 'Acme Corp!', slug: 'acme-corp' });
  });
});

const member = (over: Partial<Member>): Member => ({
  id: 'm1',
  org_id: 'org-1',
  user_id: 'u1',
  email: 'a@x.test',
  role: 'owner',
  status: 'active',
  invited_by: 'u1',
  created_at: '2026-11-24T10:00:00.000Z',
  updated_at: '2026-11-24T10:00:00.000Z',
  version: 1,
  ...over,
});

describe('Members honours the permission matrix', () => {
  const members = [
    member({}),
    member({ id: 'm2', user_id: 'u2', email: 'b@x.test', role: 'owner' }),
    member({ id: 'm3', user_id: 'u3', email: 'c@x.test', role: 'member' }),
  ];
  const api = { listMembers: async () => ({ items: members, next_cursor: null }) };

  it('gives a viewer no invite form and no role controls, but lets them leave', async () => {
    render(
      <MemoryRouter>
        <Providers api={api} role="viewer">
          <Members />
        </Providers>
      </MemoryRouter>,
    );
    await screen.findByText('c@x.test');
    expect(screen.queryByLabelText('Email')).toBeNull();
    expect(screen.queryAllByRole('combobox')).toHaveLength(0);
    expect(screen.getAllByRole('button').map((b) => b.textContent)).toEqual(['Leave']);
  });

  it('lets an admin manage members but not owners, and not grant owner', async () => {
    render(
      <MemoryRouter>
        <Providers api={api} role="admin">
          <Members />
        </Providers>
      </MemoryRouter>,
    );
    await screen.findByLabelText('Role of c@x.test');
    // Only c (a member) has a role control; the owners b (and a, the caller) do not.
    const roleSelect = screen.getByLabelText('Role of c@x.test') as HTMLSelectElement;
    expect([...roleSelect.options].map((o) => o.value)).toEqual(['member', 'admin', 'viewer']);
    expect(screen.queryByLabelText('Role of b@x.test')).toBeNull();
    const invite = screen.getByLabelText('Role') as HTMLSelectElement;
    expect([...invite.options].map((o) => o.value)).toEqual(['admin', 'member', 'viewer']);
  });
});

describe('safeReturnTo', () => {
  it('returns only to paths of this app', () => {
    expect(safeReturnTo({ returnTo: '/orgs/o1/members?x=1' })).toBe('/orgs/o1/members?x=1');
    expect(safeReturnTo({ returnTo: '//evil.example/' })).toBe('/');
    expect(safeReturnTo({ returnTo: 'https://evil.example/' })).toBe('/');
    expect(safeReturnTo(undefined)).toBe('/');
  });
});
