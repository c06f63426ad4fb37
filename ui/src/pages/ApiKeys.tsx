// `/orgs/:org/api-keys` (admins): create a key — its secret is shown once, with a copy button
// — list the keys, revoke one.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { allPages, etagOfVersion, type ApiKey, type ApiKeyCreated, type Role } from '../api/client';
import { describeError, toApiError } from '../api/errors';
import { useAnnounce } from '../app/Announcer';
import { useApp } from '../app/AppContext';
import { atLeast, grantableRoles, useOrg } from '../app/OrgContext';
import { DataTable } from '../components/DataTable';
import { Empty, ErrorBox, Loading } from '../components/Feedback';
import { SelectField, TextField } from '../components/Field';

export function ApiKeys() {
  const { api } = useApp();
  const { org, role } = useOrg();
  const announce = useAnnounce();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [keyRole, setKeyRole] = useState<Role>('member');
  const [nameError, setNameError] = useState<string | undefined>();
  const [createError, setCreateError] = useState<string | null>(null);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);
  const isAdmin = atLeast(role, 'admin');

  const load = useCallback(async () => {
    try {
      setKeys(await allPages((cursor) => api.listApiKeys(org.id, { cursor, limit: 200 })));
      setError(null);
    } catch (e) {
      setError(describeError(e, { thing: 'API key list' }));
    }
  }, [api, org.id]);

  useEffect(() => {
    if (isAdmin) void load();
  }, [load, isAdmin]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setCreateError(null);
    setNameError(undefined);
    setCopied(false);
    try {
      const { data } = await api.createApiKey(org.id, { name: name.trim(), role: keyRole });
      setCreated(data);
      setName('');
      const { secret: _secret, ...listed } = data;
      setKeys((ks) => (ks ? [...ks, listed as ApiKey] : [listed as ApiKey]));
      announce(`API key "${data.name}" created. Copy its secret now.`);
    } catch (err) {
      const apiError = toApiError(err);
      setNameError(apiError.fieldError('/name'));
      setCreateError(describeError(apiError, { thing: 'API key' }));
    } finally {
      setBusy(false);
    }
  }

  async function revoke(key: ApiKey) {
    if (!window.confirm(`Revoke "${key.name}"? Programs using it stop working at once.`)) return;
    try {
      await api.revokeApiKey(org.id, key.id, etagOfVersion(key));
      announce(`API key "${key.name}" revoked.`);
      await load();
    } catch (err) {
      setError(describeError(err, { thing: 'API key' }));
    }
  }

  async function copy() {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopied(true);
      announce('Secret copied to the clipboard.');
    } catch {
      announce('Copying failed; select the secret and copy it by hand.');
    }
  }

  if (!isAdmin) {
    return (
      <section>
        <h1>API keys</h1>
        <p>Only admins and owners can see and manage this organization’s API keys.</p>
      </section>
    );
  }

  return (
    <section>
      <h1>API keys</h1>
      <p className="muted">
        Keys let programs call the API as this organization, with the role you choose. Send one as{' '}
        <code>Authorization: Bearer trk_…</code>.
      </p>
      {created ? (
        <div className="secret-box" role="region" aria-labelledby="secret-heading">
          <h2 id="secret-heading">Copy the secret of “{created.name}” now</h2>
          <p className="warning">
            This is the only time it is shown. Trellis keeps only a hash; if you lose it, revoke the
            key and create another.
          </p>
          <div className="secret-row">
            <label htmlFor="secret" className="visually-hidden">
              Secret
            </label>
            <input id="secret" readOnly value={created.secret} onFocus={(e) => e.target.select()} />
            <button type="button" className="primary" onClick={() => void copy()}>
              {copied ? 'Copied' : 'Copy'}
            </button>
          </div>
          <button type="button" className="secondary" onClick={() => setCreated(null)}>
            I have stored it — hide the secret
          </button>
        </div>
      ) : null}
      <ErrorBox message={error} onRetry={() => void load()} />
      {keys === null && !error ? <Loading what="Loading API keys" /> : null}
      {keys && keys.length === 0 ? <Empty>No API keys yet.</Empty> : null}
      {keys && keys.length > 0 ? (
        <DataTable
          caption={`API keys of ${org.name}`}
          columns={['Name', 'Key', 'Role', 'Created', 'Status']}
        >
          {keys.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>
                <code>{k.prefix}…</code>
              </td>
              <td>{k.role}</td>
              <td>{new Date(k.created_at).toLocaleDateString()}</td>
              <td>
                {k.revoked_at ? (
                  `revoked ${new Date(k.revoked_at).toLocaleDateString()}`
                ) : (
                  <button type="button" className="link danger" onClick={() => void revoke(k)}>
                    Revoke<span className="visually-hidden"> {k.name}</span>
                  </button>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      <form className="panel stack" onSubmit={(e) => void create(e)}>
        <h2>New API key</h2>
        <div className="field-row">
          <TextField
            id="key-name"
            label="Name"
            grow
            required
            maxLength={100}
            placeholder="e.g. CI deploys"
            value={name}
            error={nameError}
            onChange={setName}
          />
          <SelectField
            id="key-role"
            label="Role"
            value={keyRole}
            options={grantableRoles(role)}
            onChange={setKeyRole}
          />
        </div>
        <ErrorBox message={createError} />
        <div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create API key'}
          </button>
        </div>
      </form>
    </section>
  );
}
