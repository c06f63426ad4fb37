// `/`: a sign-in button for visitors; a signed-in person goes on to their last org (or the
// first one, or creating one).
import { useEffect } from 'react';
import { useNavigate } from 'react-router';
import { useAuth } from '../auth/AuthContext';
import { useApp } from '../app/AppContext';
import { lastOrg } from '../app/OrgContext';
import { ErrorBox, Loading } from '../components/Feedback';

export function Landing() {
  const auth = useAuth();
  const { orgs, orgsError } = useApp();
  const navigate = useNavigate();

  useEffect(() => {
    if (!auth.user || !orgs) return;
    if (orgs.length === 0) {
      navigate('/orgs/new', { replace: true });
      return;
    }
    const remembered = lastOrg();
    const target = orgs.find((o) => o.id === remembered) ?? orgs[0];
    navigate(`/orgs/${target.id}/projects`, { replace: true });
  }, [auth.user, orgs, navigate]);

  if (auth.loading) return <Loading />;
  if (auth.user) {
    return orgsError ? <ErrorBox message={orgsError} /> : <Loading what="Opening your work" />;
  }
  return (
    <section className="landing">
      <h1>Plan and track work together</h1>
      <p>Projects, boards and tasks for your team, updated live as people work.</p>
      <button type="button" className="primary large" onClick={() => void auth.signIn('/')}>
        Sign in or create an account
      </button>
      <p className="muted">
        Developers: the <a href="/console">token console</a> and <code>/api/v1</code>.
      </p>
    </section>
  );
}
