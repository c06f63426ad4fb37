// Who is signed in, for the whole app: the current OIDC user (null when signed out), and the
// sign-in / sign-out / refresh actions. Screens read it with `useAuth()`.
import { createContext, useContext } from 'react';
import type { User } from 'oidc-client-ts';

export interface Auth {
  user: User | null;
  /** True until the stored user (if any) has been read. */
  loading: boolean;
  /**
   * True from the click on "Sign out" until the browser leaves for the issuer's end-session
   * page. The stored user is removed before that navigation, and the route guard must not
   * start a sign-in meanwhile: its redirect could win the race and, with the issuer's session
   * still alive, sign the person straight back in.
   */
  signingOut: boolean;
  /** Redirects to the issuer; after the callback the app returns to `returnTo`. */
  signIn(returnTo?: string): Promise<void>;
  signOut(): Promise<void>;
  /** One silent renewal with the refresh token; true when a new access token arrived. */
  refresh(): Promise<boolean>;
  getAccessToken(): string | null;
}

export const AuthContext = createContext<Auth | null>(null);

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error('useAuth outside <AuthProvider>');
  return auth;
}

/** The state the app passes through the sign-in redirect. */
export interface SignInState {
  returnTo: string;
}
