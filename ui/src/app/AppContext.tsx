// The signed-in app's shared state: the typed API client, the caller (`GET /me`) and their
// orgs (for the switcher). Screens read it with `useApp()`.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from 'react';
import { allPages, type Api, type Me, type Org } from '../api/client';
import { describeError } from '../api/errors';
import { useAuth } from '../auth/AuthContext';

export interface AppState {
  api: Api;
  me: Me | null;
  orgs: Org[] | null;
  orgsError: string | null;
  reloadOrgs(): Promise<void>;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const app = useContext(AppContext);
  if (!app) throw new Error('useApp outside <AppProvider>');
  return app;
}

export function AppProvider({ api, children }: { api: Api; children: ReactNode }) {
  const { user } = useAuth();
  const signedIn = Boolean(user);
  const [me, setMe] = useState<Me | null>(null);
  const [orgs, setOrgs] = useState<Org[] | null>(null);
  const [orgsError, setOrgsError] = useState<string | null>(null);

  const reloadOrgs = useCallback(async () => {
    try {
      setOrgs(await allPages((cursor) => api.listOrgs({ cursor, limit: 200 })));
      setOrgsError(null);
    } catch (e) {
      setOrgsError(describeError(e, { thing: 'organization' }));
    }
  }, [api]);

  useEffect(() => {
    if (!signedIn) {
      setMe(null);
      setOrgs(null);
      return;
    }
    let active = true;
    api
      .getMe()
      .then((m) => active && setMe(m))
      .catch(() => undefined);
    void reloadOrgs();
    return () => {
      active = false;
    };
  }, [signedIn, api, reloadOrgs]);

  const value = useMemo(
    () => ({ api, me, orgs, orgsError, reloadOrgs }),
    [api, me, orgs, orgsError, reloadOrgs],
  );
  return <AppContext.Provider value={value}>{children}</AppContext.Provider>;
}
