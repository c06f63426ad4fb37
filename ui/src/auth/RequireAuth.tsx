// The route guard: a route inside it needs a signed-in user. Without one it starts the
// sign-in, carrying the requested path so the callback returns there.
import { useEffect, type ReactNode } from 'react';
import { useLocation } from 'react-router';
import { useAuth } from './AuthContext';

export function RequireAuth({ children }: { children: ReactNode }) {
  const auth = useAuth();
  const location = useLocation();
  const signedOut = !auth.loading && !auth.user && !auth.signingOut;
  const target = `${location.pathname}${location.search}${location.hash}`;

  useEffect(() => {
    if (signedOut) void auth.signIn(target);
    // Start the redirect once per signed-out visit.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [signedOut]);

  if (auth.loading) {
    return (
      <p className="status" role="status">
        Loading…
      </p>
    );
  }
  if (!auth.user) {
    return (
      <p className="status" role="status">
        {auth.signingOut ? 'Signing out…' : 'Redirecting to sign-in…'}
      </p>
    );
  }
  return <>{children}</>;
}
