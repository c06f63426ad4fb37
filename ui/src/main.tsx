// Start-up: read the runtime configuration, make the OIDC client and the API client, render.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { AppRoutes } from './App';
import { createApi } from './api/client';
import { createHttp } from './api/http';
import { AnnouncerProvider } from './app/Announcer';
import { AppProvider } from './app/AppContext';
import { AuthProvider } from './auth/AuthProvider';
import type { SignInState } from './auth/AuthContext';
import { createUserManager } from './auth/userManager';
import { loadConfig } from './config';
import './styles.css';

async function start() {
  const config = await loadConfig();
  const userManager = createUserManager(config);
  let redirecting = false;
  const http = createHttp({
    auth: {
      async getAccessToken() {
        return (await userManager.getUser())?.access_token ?? null;
      },
      async refresh() {
        const user = await userManager.getUser();
        if (!user?.refresh_token) return false;
        try {
          return Boolean((await userManager.signinSilent())?.access_token);
        } catch {
          return false;
        }
      },
      signIn() {
        if (redirecting) return;
        redirecting = true;
        const state: SignInState = {
          returnTo: `${window.location.pathname}${window.location.search}`,
        };
        void userManager.removeUser().then(() => userManager.signinRedirect({ state }));
      },
    },
  });
  const api = createApi(http, config.api_base);

  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <BrowserRouter>
        <AuthProvider userManager={userManager}>
          <AppProvider api={api}>
            <AnnouncerProvider>
              <AppRoutes userManager={userManager} />
            </AnnouncerProvider>
          </AppProvider>
        </AuthProvider>
      </BrowserRouter>
    </StrictMode>,
  );
}

void start();
