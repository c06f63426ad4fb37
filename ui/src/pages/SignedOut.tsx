// `/signed-out`: after signing out.
import { useAuth } from '../auth/AuthContext';

export function SignedOut() {
  const auth = useAuth();
  return (
    <section className="landing">
      <h1>You are signed out</h1>
      <button type="button" className="primary" onClick={() => void auth.signIn('/')}>
        Sign in again
      </button>
    </section>
  );
}
