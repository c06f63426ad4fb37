// The org's live event stream, opened once per org page and shared: screens subscribe to the
// domain events they show (`useLiveEvents(handler)`), and refetch or patch their state.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import type { LiveEvent } from '../api/client';
import { connectEventStream, type StreamState } from '../api/sse';
import { useAuth } from '../auth/AuthContext';

/** A domain event, or `reset` (too many were missed: reload everything shown). */
export type LiveMessage = { kind: 'event'; event: LiveEvent } | { kind: 'reset' };
type Handler = (message: LiveMessage) => void;

interface LiveState {
  subscribe(handler: Handler): () => void;
  state: StreamState;
}

const LiveContext = createContext<LiveState | null>(null);

export function LiveEventsProvider({ url, children }: { url: string; children: ReactNode }) {
  const auth = useAuth();
  const authRef = useRef(auth);
  authRef.current = auth;
  const handlers = useRef(new Set<Handler>());
  const [state, setState] = useState<StreamState>('connecting');

  useEffect(() => {
    const stream = connectEventStream({
      url,
      getAccessToken: () => authRef.current.getAccessToken(),
      refresh: () => authRef.current.refresh(),
      onState: setState,
      onMessage(message) {
        let live: LiveMessage | null = null;
        if (message.event === 'reset') live = { kind: 'reset' };
        else {
          try {
            live = { kind: 'event', event: JSON.parse(message.data) as LiveEvent };
          } catch {
            live = null;
          }
        }
        if (live) for (const handler of handlers.current) handler(live);
      },
    });
    return () => stream.close();
  }, [url]);

  const subscribe = useCallback((handler: Handler) => {
    handlers.current.add(handler);
    return () => {
      handlers.current.delete(handler);
    };
  }, []);
  const value = useMemo<LiveState>(() => ({ subscribe, state }), [subscribe, state]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

/** Calls `handler` (the latest one) for every live message of the current org. */
export function useLiveEvents(handler: Handler): void {
  const live = useContext(LiveContext);
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    if (!live) return;
    return live.subscribe((m) => latest.current(m));
  }, [live]);
}

export function useLiveState(): StreamState {
  return useContext(LiveContext)?.state ?? 'closed';
}
