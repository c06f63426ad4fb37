// The route table. Everything but `/`, `/auth/callback` and `/signed-out` is behind the
// sign-in guard; org pages share the org layout (the org, the role, the live stream).
import { Outlet, Route, Routes } from 'react-router';
import type { UserManager } from 'oidc-client-ts';
import { OrgLayout } from './app/OrgLayout';
import { RequireAuth } from './auth/RequireAuth';
import { Header } from './components/Header';
import { ApiKeys } from './pages/ApiKeys';
import { Audit } from './pages/Audit';
import { AuthCallback } from './pages/AuthCallback';
import { Board } from './pages/Board';
import { Landing } from './pages/Landing';
import { Members } from './pages/Members';
import { NewOrg } from './pages/NewOrg';
import { NotFound } from './pages/NotFound';
import { Projects } from './pages/Projects';
import { SignedOut } from './pages/SignedOut';
import { TaskDetail } from './pages/TaskDetail';

function Shell() {
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

export function AppRoutes({ userManager }: { userManager: UserManager }) {
  return (
    <Routes>
      <Route element={<Shell />}>
        <Route index element={<Landing />} />
        <Route path="auth/callback" element={<AuthCallback userManager={userManager} />} />
        <Route path="signed-out" element={<SignedOut />} />
        <Route
          element={
            <RequireAuth>
              <Outlet />
            </RequireAuth>
          }
        >
          <Route path="orgs/new" element={<NewOrg />} />
          <Route path="orgs/:org" element={<OrgLayout />}>
            <Route index element={<Projects />} />
            <Route path="projects" element={<Projects />} />
            <Route path="projects/:project" element={<Board />} />
            <Route path="tasks/:task" element={<TaskDetail />} />
            <Route path="members" element={<Members />} />
            <Route path="api-keys" element={<ApiKeys />} />
            <Route path="audit" element={<Audit />} />
          </Route>
          <Route path="*" element={<NotFound />} />
        </Route>
      </Route>
    </Routes>
  );
}
