import { UserManager, type User } from 'oidc-client-ts';
import { describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../config';
import { TrellisUserManager, userManagerSettings } from './userManager';

describe('the OIDC client settings', () => {
  it('uses code + PKCE at this origin, sessionStorage and refresh-token renewal', () => {
    const s = userManagerSettings(defaultConfig('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
    expect(s.authority).toBe('http://127.0.0.1:8080');
    expect(s.client_id).toBe('trellis-web');
    expect(s.response_type).toBe('code');
    expect(s.redirect_uri).toBe('http://127.0.0.1:8080/auth/callback');
    expect(s.post_logout_redirect_uri).toBe('http://127.0.0.1:8080/');
    expect(s.automaticSilentRenew).toBe(true);
    expect(s.monitorSession).toBe(false);
  });
});

describe('TrellisUserManager.signinSilent', () => {
  it('runs one refresh-token exchange for concurrent callers (rotation reuse revokes)', async () => {
    let release: (u: User) => void = () => undefined;
    const exchange = vi
      .spyOn(UserManager.prototype, 'signinSilent')
      .mockImplementation(() => new Promise<User | null>((r) => (release = r)));
    const manager = new TrellisUserManager(
      userManagerSettings(defaultConfig('http://x.test'), 'http://x.test'),
    );
    const a = manager.signinSilent();
    const b = manager.signinSilent();
    expect(exchange).toHaveBeenCalledTimes(1);
    const user = { access_token: 'new' } as User;
    release(user);
    expect(await a).toBe(user);
    expect(await b).toBe(user);
    // Once settled, the next renewal is a new exchange.
    void manager.signinSilent();
    expect(exchange).toHaveBeenCalledTimes(2);
  });
});
