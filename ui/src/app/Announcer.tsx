// One polite aria-live region for the whole app: `announce('Moved "X" to Done')` tells screen
// readers about the result of an action that did not move focus.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

const AnnouncerContext = createContext<(message: string) => void>(() => undefined);

export function useAnnounce(): (message: string) => void {
  return useContext(AnnouncerContext);
}

export function AnnouncerProvider({ children }: { children: ReactNode }) {
  const [message, setMessage] = useState('');
  const announce = useCallback((text: string) => {
    // Clear first so that the same words twice are announced twice.
    setMessage('');
    window.setTimeout(() => setMessage(text), 50);
  }, []);
  const value = useMemo(() => announce, [announce]);
  return (
    <AnnouncerContext.Provider value={value}>
      {children}
      <div
        className="visually-hidden"
        aria-live="polite"
        aria-atomic="true"
        data-testid="announcer"
      >
        {message}
      </div>
    </AnnouncerContext.Provider>
  );
}
