// Provides `Auth` from an oidc-client-ts UserManager: reads the stored user, follows renewals
// and sign-outs, and implements the actions the API client and the route guard use.
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { User, UserManager } from 'oidc-client-ts';
import { AuthContext, type Auth, type SignInState } from './AuthContext';

export function AuthProvider({
  userManager,
  children,
}: {
  userManager: UserManager;
  children: ReactNode;
}) {
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(true);
  const [signingOut, setSigningOut] = useState(false);
  const userRef = useRef<User | null>(null);
  userRef.current = user;

  useEffect(() => {
    let active = true;
    const loaded = (u: User) => {
      if (active) setUser(u);
    };
    const unloaded = () => {
      if (active) setUser(null);
    };
    userManager.events.addUserLoaded(loaded);
    userManager.events.addUserUnloaded(unloaded);
    userManager.events.addUserSignedOut(unloaded);
    void (async () => {
      let stored = await userManager.getUser();
      if (stored?.expired) {
        stored = stored.refresh_token ? await userManager.signinSilent().catch(() => null) : null;
        if (!stored) await userManager.removeUser();
      }
      if (active) {
        setUser(stored);
        setLoading(false);
      }
    })();
    return () => {
      active = false;
      userManager.events.removeUserLoaded(loaded);
      userManager.events.removeUserUnloaded(unloaded);
      userManager.events.removeUserSignedOut(unloaded);
    };
  }, [userManager]);

  const auth = useMemo<Auth>(
    () => ({
      user,
      loading,
      signingOut,
      async signIn(returnTo = '/') {
        const state: SignInState = { returnTo };
        await userManager.signinRedirect({ state });
      },
      async signOut() {
        const current = userRef.current;
        setSigningOut(true);
        try {
          // Removes the stored user, then navigates to the issuer's end-session endpoint.
          await userManager.signoutRedirect({ id_token_hint: current?.id_token });
        } catch {
          // The issuer cannot be reached: sign out here at least; the guard then signs in.
          await userManager.removeUser();
          setSigningOut(false);
        }
      },
      async refresh() {
        const current = userRef.current ?? (await userManager.getUser());
        if (!current?.refresh_token) return false;
        try {
          const renewed = await userManager.signinSilent();
          return Boolean(renewed?.access_token);
        } catch {
          return false;
        }
      },
      getAccessToken() {
        return userRef.current?.access_token ?? null;
      },
    }),
    [user, loading, signingOut, userManager],
  );

  return <AuthContext.Provider value={auth}>{children}</AuthContext.Provider>;
}
