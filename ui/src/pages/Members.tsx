// `/orgs/:org/members`: who is in the org. Admins invite by email, change roles and remove
// people (only owners touch owners, and grant owner); anyone may leave. What the caller's role
// cannot do is not offered (docs/permissions.md).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { allPages, etagOfVersion, type Member, type Role } from '../api/client';
import { describeError, toApiError } from '../api/errors';
import { useAnnounce } from '../app/Announcer';
import { useApp } from '../app/AppContext';
import { atLeast, grantableRoles, useOrg } from '../app/OrgContext';
import { DataTable } from '../components/DataTable';
import { ErrorBox, Loading } from '../components/Feedback';
import { Select, SelectField, TextField } from '../components/Field';
import { useLiveEvents } from '../live/LiveEvents';

const kRoleHelp: Record<Role, string> = {
  owner: 'Owner — everything, including owners',
  admin: 'Admin — members, API keys, audit',
  member: 'Member — projects, tasks, comments',
  viewer: 'Viewer — reads only',
};

/** Why changing or removing a member failed; a 409 is the last owner's rule. */
function memberActionError(err: unknown): string {
  const apiError = toApiError(err);
  return apiError.status === 409
    ? 'The organization must keep at least one owner. Make someone else an owner first.'
    : describeError(apiError, { thing: 'member' });
}

export function Members() {
  const { api, me, reloadOrgs } = useApp();
  const { org, role } = useOrg();
  const announce = useAnnounce();
  const navigate = useNavigate();
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [email, setEmail] = useState('');
  const [inviteRole, setInviteRole] = useState<Role>('member');
  const [emailError, setEmailError] = useState<string | undefined>();
  const [inviteError, setInviteError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const isAdmin = atLeast(role, 'admin');
  const grantable = grantableRoles(role);
  const myId = me?.user?.id;

  const load = useCallback(async () => {
    try {
      setMembers(await allPages((cursor) => api.listMembers(org.id, { cursor, limit: 200 })));
      setError(null);
    } catch (e) {
      setError(describeError(e, { thing: 'member list' }));
    }
  }, [api, org.id]);

  useEffect(() => {
    void load();
  }, [load]);

  useLiveEvents((m) => {
    if (m.kind === 'reset' || m.event.type.startsWith('identity.member.')) void load();
  });

  async function invite(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setInviteError(null);
    setEmailError(undefined);
    try {
      const { data } = await api.inviteMember(org.id, { email: email.trim(), role: inviteRole });
      setMembers((ms) => (ms ? [...ms.filter((m) => m.id !== data.id), data] : [data]));
      setEmail('');
      announce(
        data.status === 'active'
          ? `${data.email} joined as ${data.role}.`
          : `Invited ${data.email} as ${data.role}. They join when they sign in.`,
      );
    } catch (err) {
      const apiError = toApiError(err);
      setEmailError(apiError.fieldError('/email'));
      setInviteError(
        apiError.type === 'already-exists'
          ? 'That email is already a member or invited.'
          : describeError(apiError, { thing: 'invitation' }),
      );
    } finally {
      setBusy(false);
    }
  }

  async function changeRole(member: Member, next: Role) {
    setActionError(null);
    try {
      const { data } = await api.changeMemberRole(org.id, member.id, next, etagOfVersion(member));
      setMembers((ms) => ms && ms.map((m) => (m.id === data.id ? data : m)));
      announce(`${member.email || 'The member'} is now ${next}.`);
    } catch (err) {
      setActionError(memberActionError(err));
      void load();
    }
  }

  async function remove(member: Member) {
    const self = member.user_id !== null && member.user_id === myId;
    const question = self
      ? `Leave ${org.name}? You will lose access to it.`
      : member.status === 'pending'
        ? `Cancel the invitation of ${member.email}?`
        : `Remove ${member.email || 'this member'} from ${org.name}?`;
    if (!window.confirm(question)) return;
    setActionError(null);
    try {
      await api.removeMember(org.id, member.id, etagOfVersion(member));
      if (self) {
        await reloadOrgs();
        navigate('/');
        return;
      }
      setMembers((ms) => ms && ms.filter((m) => m.id !== member.id));
      announce(`${member.email || 'The member'} was removed.`);
    } catch (err) {
      setActionError(memberActionError(err));
    }
  }

  // Only owners touch owners; an admin changes others within what it may grant.
  const mayManage = (m: Member) => isAdmin && (m.role !== 'owner' || role === 'owner');

  return (
    <section>
      <h1>Members</h1>
      <p className="muted">
        {org.name} · your role: <strong>{role}</strong>
      </p>
      <ErrorBox message={error} onRetry={() => void load()} />
      <ErrorBox message={actionError} />
      {members === null && !error ? <Loading what="Loading members" /> : null}
      {members ? (
        <DataTable
          caption={`Members of ${org.name}`}
          columns={['Email', 'Role', 'Status', <span className="visually-hidden">Actions</span>]}
        >
          {members.map((m) => {
            const self = m.user_id !== null && m.user_id === myId;
            return (
              <tr key={m.id}>
                <td>
                  {m.email || '(no email)'}
                  {self ? <span className="badge">you</span> : null}
                </td>
                <td>
                  {mayManage(m) ? (
                    <label>
                      <span className="visually-hidden">Role of {m.email}</span>
                      <Select
                        value={m.role}
                        options={[...new Set<Role>([m.role, ...grantable])]}
                        onChange={(r) => void changeRole(m, r)}
                      />
                    </label>
                  ) : (
                    m.role
                  )}
                </td>
                <td>{m.status === 'pending' ? 'invited' : 'active'}</td>
                <td className="row-actions">
                  {self ? (
                    <button type="button" className="link danger" onClick={() => void remove(m)}>
                      Leave
                    </button>
                  ) : mayManage(m) ? (
                    <button type="button" className="link danger" onClick={() => void remove(m)}>
                      {m.status === 'pending' ? 'Cancel invitation' : 'Remove'}
                      <span className="visually-hidden"> {m.email}</span>
                    </button>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </DataTable>
      ) : null}
      {isAdmin ? (
        <form className="panel stack" onSubmit={(e) => void invite(e)}>
          <h2>Invite someone</h2>
          <p className="muted">
            They join as soon as they sign in with this email (or at once, if they already have an
            account).
          </p>
          <div className="field-row">
            <TextField
              id="invite-email"
              label="Email"
              grow
              type="email"
              required
              value={email}
              error={emailError}
              onChange={setEmail}
            />
            <SelectField
              id="invite-role"
              label="Role"
              value={inviteRole}
              options={grantable}
              optionLabel={(r) => kRoleHelp[r]}
              onChange={setInviteRole}
            />
          </div>
          <ErrorBox message={inviteError} />
          <div>
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Inviting…' : 'Send invitation'}
            </button>
          </div>
        </form>
      ) : (
        <p className="muted">Only admins and owners can invite people or change roles.</p>
      )}
    </section>
  );
}
