// The OIDC client: authorization code + PKCE (S256) with oidc-client-ts, tokens kept in
// sessionStorage, renewed with the refresh token (no iframes: the CSP forbids frames).
//
// Refresh tokens rotate, and presenting one twice revokes the whole chain (docs/sign-in.md).
// Several parts of the app may want a fresh token at once (the expiry timer, a 401 in the API
// client, the event stream), so `signinSilent` runs one exchange at a time: concurrent callers
// share it.
import {
  UserManager,
  WebStorageStateStore,
  type SigninSilentArgs,
  type User,
  type UserManagerSettings,
} from 'oidc-client-ts';
import type { UiConfig } from '../config';

export function userManagerSettings(config: UiConfig, origin: string): UserManagerSettings {
  return {
    authority: config.authority,
    client_id: config.client_id,
    scope: config.scope,
    response_type: 'code',
    redirect_uri: `${origin}/auth/callback`,
    post_logout_redirect_uri: `${origin}/`,
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    automaticSilentRenew: true,
    // Refresh-token renewal only; check_session would need an iframe.
    monitorSession: false,
    loadUserInfo: false,
    accessTokenExpiringNotificationTimeInSeconds: 60,
  };
}

export class TrellisUserManager extends UserManager {
  private renewal: Promise<User | null> | null = null;

  override signinSilent(args?: SigninSilentArgs): Promise<User | null> {
    this.renewal ??= super.signinSilent(args).finally(() => {
      this.renewal = null;
    });
    return this.renewal;
  }
}

export function createUserManager(config: UiConfig, origin = window.location.origin): UserManager {
  return new TrellisUserManager(userManagerSettings(config, origin));
}
