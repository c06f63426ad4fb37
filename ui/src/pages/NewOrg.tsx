// `/orgs/new`: create an organization (name and slug); the creator becomes its owner.
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { toApiError, describeError } from '../api/errors';
import { useApp } from '../app/AppContext';
import { ErrorBox } from '../components/Feedback';
import { TextField } from '../components/Field';

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
        <TextField
          id="org-name"
          label="Name"
          required
          maxLength={100}
          value={name}
          error={fields.name}
          onChange={(value) => {
            setName(value);
            if (!slugEdited) setSlug(slugify(value));
          }}
        />
        <TextField
          id="org-slug"
          label="Short name (in addresses)"
          required
          minLength={3}
          maxLength={40}
          pattern="[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?"
          value={slug}
          hint="3 to 40 lower-case letters, digits and dashes."
          error={fields.slug}
          onChange={(value) => {
            setSlug(value);
            setSlugEdited(true);
          }}
        />
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
