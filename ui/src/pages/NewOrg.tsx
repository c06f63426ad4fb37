// `/orgs/new`: create an organization (name and slug); the creator becomes its owner.
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { toApiError, describeError } from '../api/errors';
import { useApp } from '../app/AppContext';
import { ErrorBox, FieldMessage } from '../components/Feedback';

function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
}

export function NewOrg() {
  const { api, reloadOrgs } = useApp();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [slugEdited, setSlugEdited] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string | undefined>>({});

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setFields({});
    try {
      const { data } = await api.createOrg({ name: name.trim(), slug });
      await reloadOrgs();
      navigate(`/orgs/${data.id}/projects`);
    } catch (err) {
      const apiError = toApiError(err);
      setFields({ name: apiError.fieldError('/name'), slug: apiError.fieldError('/slug') });
      setError(describeError(apiError, { thing: 'organization' }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="narrow">
      <h1>New organization</h1>
      <p className="muted">You will be its owner, and can invite people next.</p>
      <form onSubmit={(e) => void submit(e)} className="stack">
        <div className="field">
          <label htmlFor="org-name">Name</label>
          <input
            id="org-name"
            required
            maxLength={100}
            value={name}
            aria-invalid={Boolean(fields.name)}
            aria-describedby="org-name-error"
            onChange={(e) => {
              setName(e.target.value);
              if (!slugEdited) setSlug(slugify(e.target.value));
            }}
          />
          <FieldMessage id="org-name-error" message={fields.name} />
        </div>
        <div className="field">
          <label htmlFor="org-slug">Short name (in addresses)</label>
          <input
            id="org-slug"
            required
            minLength={3}
            maxLength={40}
            pattern="[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?"
            value={slug}
            aria-invalid={Boolean(fields.slug)}
            aria-describedby="org-slug-hint org-slug-error"
            onChange={(e) => {
              setSlug(e.target.value);
              setSlugEdited(true);
            }}
          />
          <p className="hint" id="org-slug-hint">
            3 to 40 lower-case letters, digits and dashes.
          </p>
          <FieldMessage id="org-slug-error" message={fields.slug} />
        </div>
        <ErrorBox message={error} />
        <div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create organization'}
          </button>
        </div>
      </form>
    </section>
  );
}
