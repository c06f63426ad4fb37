// The OIDC client: authorization code + PKCE (S256) with oidc-client-ts, tokens kept in
// sessionStorage, renewed with the refresh token (no iframes: the CSP forbids frames).
import { UserManager, WebStorageStateStore, type UserManagerSettings } from 'oidc-client-ts';
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

export function createUserManager(config: UiConfig, origin = window.location.origin): UserManager {
  return new UserManager(userManagerSettings(config, origin));
}
