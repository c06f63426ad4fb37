// Every `/orgs/:org/...` page: loads the org (and the caller's role in it), remembers it as
// the last org, opens its live event stream, and renders the page inside.
import { useCallback, useEffect, useState } from 'react';
import { Outlet, useParams } from 'react-router';
import { describeError } from '../api/errors';
import { ErrorBox, Loading } from '../components/Feedback';
import { LiveEventsProvider, useLiveEvents } from '../live/LiveEvents';
import { useApp } from './AppContext';
import { OrgContext, rememberOrg, type OrgState } from './OrgContext';

export function OrgLayout() {
  const { org: orgId = '' } = useParams();
  const { api } = useApp();
  const [state, setState] = useState<OrgState | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const { data } = await api.getOrg(orgId);
      setState({ org: data, role: data.role ?? 'viewer' });
      setError(null);
      rememberOrg(orgId);
    } catch (e) {
      setError(describeError(e, { thing: 'organization' }));
    }
  }, [api, orgId]);

  useEffect(() => {
    setState(null);
    void load();
  }, [load]);

  if (error) return <ErrorBox message={error} onRetry={() => void load()} />;
  if (!state || state.org.id !== orgId) return <Loading what="Loading the organization" />;
  return (
    <OrgContext.Provider value={state}>
      <LiveEventsProvider url={api.eventsUrl(orgId)}>
        <RoleFollower reload={load} />
        <Outlet />
      </LiveEventsProvider>
    </OrgContext.Provider>
  );
}

// Reloads the org (and so the caller's role) when the org or its members change.
function RoleFollower({ reload }: { reload: () => Promise<void> }) {
  const { reloadOrgs } = useApp();
  useLiveEvents((m) => {
    // The org's name and the caller's role (in the header and the switcher too).
    if (
      m.kind === 'reset' ||
      m.event.type.startsWith('identity.org.') ||
      m.event.type.startsWith('identity.member.')
    ) {
      void reload();
      void reloadOrgs();
    }
  });
  return null;
}
