// The top bar: the product name, the org switcher, the org's sections and the account menu.
// On narrow screens the sections fold behind a "Menu" button.
import { useState } from 'react';
import { Link, NavLink, useNavigate, useParams } from 'react-router';
import { useAuth } from '../auth/AuthContext';
import { useApp } from '../app/AppContext';

export function Header() {
  const auth = useAuth();
  const { orgs, me } = useApp();
  const { org } = useParams();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const current = orgs?.find((o) => o.id === org);
  const canAdmin = current?.role === 'owner' || current?.role === 'admin';

  return (
    <header className="app-header">
      <div className="header-row">
        <Link to="/" className="brand">
          Trellis
        </Link>
        {auth.user ? (
          <>
            <label className="org-switcher">
              <span className="visually-hidden">Organization</span>
              <select
                value={org ?? ''}
                onChange={(e) => {
                  const value = e.target.value;
                  if (value === '__new') navigate('/orgs/new');
                  else if (value) navigate(`/orgs/${value}/projects`);
                }}
              >
                {!org ? <option value="">Choose an organization</option> : null}
                {(orgs ?? []).map((o) => (
                  <option key={o.id} value={o.id}>
                    {o.name}
                  </option>
                ))}
                <option value="__new">+ New organization…</option>
              </select>
            </label>
            <button
              type="button"
              className="menu-toggle secondary"
              aria-expanded={open}
              aria-controls="main-nav"
              onClick={() => setOpen((v) => !v)}
            >
              Menu
            </button>
          </>
        ) : null}
      </div>
      {auth.user ? (
        <nav id="main-nav" className={open ? 'main-nav open' : 'main-nav'} aria-label="Main">
          {org ? (
            <ul>
              <li>
                <NavLink to={`/orgs/${org}/projects`} onClick={() => setOpen(false)}>
                  Projects
                </NavLink>
              </li>
              <li>
                <NavLink to={`/orgs/${org}/members`} onClick={() => setOpen(false)}>
                  Members
                </NavLink>
              </li>
              {canAdmin ? (
                <>
                  <li>
                    <NavLink to={`/orgs/${org}/api-keys`} onClick={() => setOpen(false)}>
                      API keys
                    </NavLink>
                  </li>
                  <li>
                    <NavLink to={`/orgs/${org}/audit`} onClick={() => setOpen(false)}>
                      Audit log
                    </NavLink>
                  </li>
                </>
              ) : null}
            </ul>
          ) : (
            <ul />
          )}
          <div className="account">
            <span className="who">{me?.user?.name ?? auth.user.profile.email ?? ''}</span>
            <button type="button" className="secondary" onClick={() => void auth.signOut()}>
              Sign out
            </button>
          </div>
        </nav>
      ) : null}
    </header>
  );
}
