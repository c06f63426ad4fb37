// `/orgs/:org/projects`: the org's projects, and a form to create one (members and up).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { allPages, type Project } from '../api/client';
import { describeError, toApiError } from '../api/errors';
import { useApp } from '../app/AppContext';
import { atLeast, useOrg } from '../app/OrgContext';
import { Empty, ErrorBox, Loading } from '../components/Feedback';
import { TextAreaField, TextField } from '../components/Field';
import { useLiveEvents } from '../live/LiveEvents';

export function Projects() {
  const { api } = useApp();
  const { org, role } = useOrg();
  const navigate = useNavigate();
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [nameError, setNameError] = useState<string | undefined>();
  const canCreate = atLeast(role, 'member');

  const load = useCallback(async () => {
    try {
      setProjects(
        await allPages((cursor) => api.listProjects(org.id, { cursor, limit: 200, sort: 'name' })),
      );
      setError(null);
    } catch (e) {
      setError(describeError(e, { thing: 'project' }));
    }
  }, [api, org.id]);

  useEffect(() => {
    void load();
  }, [load]);

  useLiveEvents((m) => {
    if (m.kind === 'reset' || m.event.type.startsWith('work.project.')) void load();
  });

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setFormError(null);
    setNameError(undefined);
    try {
      const { data } = await api.createProject(org.id, {
        name: name.trim(),
        ...(description.trim() ? { description } : {}),
      });
      navigate(`/orgs/${org.id}/projects/${data.id}`);
    } catch (err) {
      const apiError = toApiError(err);
      setNameError(apiError.fieldError('/name'));
      setFormError(describeError(apiError, { thing: 'project' }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h1>Projects</h1>
      <p className="muted">{org.name}</p>
      <ErrorBox message={error} onRetry={() => void load()} />
      {projects === null && !error ? <Loading what="Loading projects" /> : null}
      {projects && projects.length === 0 ? (
        <Empty>No projects yet{canCreate ? ' — create the first one below.' : '.'}</Empty>
      ) : null}
      {projects && projects.length > 0 ? (
        <ul className="card-list">
          {projects.map((p) => (
            <li key={p.id}>
              <Link to={`/orgs/${org.id}/projects/${p.id}`} className="card-link">
                <strong>{p.name}</strong>
                {p.archived ? <span className="badge">archived</span> : null}
                {p.description ? <span className="muted">{p.description}</span> : null}
              </Link>
            </li>
          ))}
        </ul>
      ) : null}
      {canCreate ? (
        <form className="panel stack" onSubmit={(e) => void create(e)}>
          <h2>New project</h2>
          <TextField
            id="project-name"
            label="Project name"
            required
            maxLength={200}
            value={name}
            error={nameError}
            onChange={setName}
          />
          <TextAreaField
            id="project-description"
            label="Description (optional)"
            rows={2}
            maxLength={10000}
            value={description}
            onChange={setDescription}
          />
          <ErrorBox message={formError} />
          <div>
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create project'}
            </button>
          </div>
        </form>
      ) : (
        <p className="muted">Viewers can look at projects; ask an admin to make you a member.</p>
      )}
    </section>
  );
}
