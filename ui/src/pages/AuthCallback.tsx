// `/auth/callback`: the issuer redirects here with the code; it is exchanged (PKCE) once, and
// the app returns to the page the sign-in started from.
import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router';
import type { User, UserManager } from 'oidc-client-ts';
import type { SignInState } from '../auth/AuthContext';
import { ErrorBox, Loading } from '../components/Feedback';

// React may run effects twice in development; the code must be exchanged once per URL.
const exchanges = new Map<string, Promise<User>>();

export function safeReturnTo(state: unknown): string {
  const returnTo = (state as SignInState | undefined)?.returnTo;
  // Only same-app paths ("/x", not "//host" or a URL).
  return typeof returnTo === 'string' && /^\/(?!\/)/.test(returnTo) ? returnTo : '/';
}

export function AuthCallback({ userManager }: { userManager: UserManager }) {
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const url = window.location.href;
    let exchange = exchanges.get(url);
    if (!exchange) {
      exchange = userManager.signinRedirectCallback(url);
      exchanges.set(url, exchange);
    }
    let active = true;
    exchange
      .then((user) => {
        if (active) navigate(safeReturnTo(user.state), { replace: true });
      })
      .catch((e: unknown) => {
        if (active)
          setError(
            `Signing in did not complete (${e instanceof Error ? e.message : String(e)}). Try again from the start page.`,
          );
      });
    return () => {
      active = false;
    };
  }, [userManager, navigate]);

  if (error)
    return (
      <section>
        <h1>Sign-in</h1>
        <ErrorBox message={error} />
        <a href="/">Back to the start page</a>
      </section>
    );
  return <Loading what="Signing you in" />;
}
