import { render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import type { UserManager } from 'oidc-client-ts';
import { describe, expect, it } from 'vitest';
import { AppRoutes } from '../App';
import { fakeAuth, Providers } from '../test/contexts';
import { RequireAuth } from './RequireAuth';

function renderAt(path: string, auth = fakeAuth({ user: null })) {
  render(
    <MemoryRouter initialEntries={[path]}>
      <Providers auth={auth} api={{}}>
        <RequireAuth>
          <p>secret page</p>
        </RequireAuth>
      </Providers>
    </MemoryRouter>,
  );
  return auth;
}

describe('RequireAuth (the route guard)', () => {
  it('starts the sign-in with the requested path when nobody is signed in', () => {
    const auth = renderAt('/orgs/o1/members?tab=x#top');
    expect(auth.signIn).toHaveBeenCalledTimes(1);
    expect(auth.signIn).toHaveBeenCalledWith('/orgs/o1/members?tab=x#top');
    expect(screen.getByRole('status').textContent).toBe('Redirecting to sign-in…');
    expect(screen.queryByText('secret page')).toBeNull();
  });

  it('waits while the stored user is being read', () => {
    const auth = renderAt('/orgs/o1', fakeAuth({ user: null, loading: true }));
    expect(auth.signIn).not.toHaveBeenCalled();
    expect(screen.queryByText('secret page')).toBeNull();
  });

  it('starts no sign-in while signing out (the end-session redirect must win)', () => {
    const auth = renderAt('/orgs/o1', fakeAuth({ user: null, signingOut: true }));
    expect(auth.signIn).not.toHaveBeenCalled();
    expect(screen.getByRole('status').textContent).toBe('Signing out…');
    expect(screen.queryByText('secret page')).toBeNull();
  });

  it('shows the page to a signed-in user', () => {
    const auth = renderAt('/orgs/o1', fakeAuth());
    expect(auth.signIn).not.toHaveBeenCalled();
    expect(screen.getByText('secret page')).toBeTruthy();
  });
});

describe('the route table', () => {
  const userManager = {} as UserManager;
  const renderApp = (path: string) => {
    const auth = fakeAuth({ user: null });
    render(
      <MemoryRouter initialEntries={[path]}>
        <Providers auth={auth} api={{}}>
          <AppRoutes userManager={userManager} />
        </Providers>
      </MemoryRouter>,
    );
    return auth;
  };

  it('leaves the landing page and /signed-out open', () => {
    expect(renderApp('/').signIn).not.toHaveBeenCalled();
    expect(screen.getByRole('button', { name: 'Sign in or create an account' })).toBeTruthy();
  });

  it('leaves /signed-out open', () => {
    expect(renderApp('/signed-out').signIn).not.toHaveBeenCalled();
    expect(screen.getByRole('heading', { name: 'You are signed out' })).toBeTruthy();
  });

  it('guards org pages and unknown paths', () => {
    expect(renderApp('/orgs/o1/projects').signIn).toHaveBeenCalledWith('/orgs/o1/projects');
  });

  it('guards /orgs/new', () => {
    expect(renderApp('/orgs/new').signIn).toHaveBeenCalledWith('/orgs/new');
  });
});
