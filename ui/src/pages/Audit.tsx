// `/orgs/:org/audit` (admins): the org's audit trail, newest first, filtered by actor, action
// and time, one page at a time by cursor.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { allPages, type AuditEvent, type Member } from '../api/client';
import { describeError } from '../api/errors';
import { useApp } from '../app/AppContext';
import { atLeast, useOrg } from '../app/OrgContext';
import { DataTable } from '../components/DataTable';
import { Empty, ErrorBox, Loading } from '../components/Feedback';
import { TextField } from '../components/Field';

interface Filters {
  actor: string;
  action: string;
  since: string;
  until: string;
}
const kNoFilters: Filters = { actor: '', action: '', since: '', until: '' };
const kPageSize = 25;

/** A short, recognisable name for an audit event's subject: its title, name or email. */
export function subjectLabel(event: AuditEvent): string {
  const p = event.payload as Record<string, unknown>;
  for (const key of ['title', 'name', 'email', 'body']) {
    const value = p[key];
    if (typeof value === 'string' && value)
      return value.length > 60 ? `${value.slice(0, 57)}…` : value;
  }
  // UUIDv7 ids start with their time: the end tells them apart.
  return `…${event.subject_id.slice(-8)}`;
}

/** A datetime-local value ("2026-11-24T10:00") as an RFC 3339 instant, or undefined. */
export function toInstant(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function Audit() {
  const { api } = useApp();
  const { org, role } = useOrg();
  const [draft, setDraft] = useState<Filters>(kNoFilters);
  const [filters, setFilters] = useState<Filters>(kNoFilters);
  // The cursors of the pages before this one, to go back.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const isAdmin = atLeast(role, 'admin');
  const cursor = cursors[cursors.length - 1];

  const load = useCallback(async () => {
    setEvents(null);
    try {
      const page = await api.listAuditEvents(org.id, {
        limit: kPageSize,
        cursor,
        actor: filters.actor.trim() || undefined,
        action: filters.action.trim() || undefined,
        since: toInstant(filters.since),
        until: toInstant(filters.until),
      });
      setEvents(page.items);
      setNext(page.next_cursor);
      setError(null);
    } catch (e) {
      setError(describeError(e, { thing: 'audit log' }));
      setEvents([]);
    }
  }, [api, org.id, cursor, filters]);

  useEffect(() => {
    if (isAdmin) void load();
  }, [load, isAdmin]);

  useEffect(() => {
    allPages((c) => api.listMembers(org.id, { cursor: c, limit: 200 }))
      .then(setMembers)
      .catch(() => setMembers([]));
  }, [api, org.id]);
  const actorLabel = (id: string) =>
    id ? (members.find((m) => m.user_id === id)?.email ?? `…${id.slice(-8)}`) : 'system';

  function apply(e: FormEvent) {
    e.preventDefault();
    setFilters(draft);
    setCursors([undefined]);
  }

  if (!isAdmin) {
    return (
      <section>
        <h1>Audit log</h1>
        <p>Only admins and owners can read the audit log.</p>
      </section>
    );
  }

  return (
    <section>
      <h1>Audit log</h1>
      <form className="panel filters" onSubmit={apply} aria-label="Filter the audit log">
        <TextField
          id="audit-action"
          label="Action"
          placeholder="e.g. work.task.updated"
          value={draft.action}
          onChange={(action) => setDraft({ ...draft, action })}
        />
        <TextField
          id="audit-actor"
          label="Actor id"
          value={draft.actor}
          onChange={(actor) => setDraft({ ...draft, actor })}
        />
        <TextField
          id="audit-since"
          label="From"
          type="datetime-local"
          value={draft.since}
          onChange={(since) => setDraft({ ...draft, since })}
        />
        <TextField
          id="audit-until"
          label="Until"
          type="datetime-local"
          value={draft.until}
          onChange={(until) => setDraft({ ...draft, until })}
        />
        <div className="actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setDraft(kNoFilters);
              setFilters(kNoFilters);
              setCursors([undefined]);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ErrorBox message={error} onRetry={() => void load()} />
      {events === null ? <Loading what="Loading the audit log" /> : null}
      {events && events.length === 0 && !error ? (
        <Empty>No events match these filters.</Empty>
      ) : null}
      {events && events.length > 0 ? (
        <DataTable
          className="audit"
          caption="Audit events, newest first"
          columns={['When', 'Action', 'Actor', 'Subject']}
        >
          {events.map((ev) => (
            <tr key={ev.id}>
              <td>
                <time dateTime={ev.occurred_at}>{new Date(ev.occurred_at).toLocaleString()}</time>
              </td>
              <td>
                <code>{ev.action}</code>
              </td>
              <td>
                <button
                  type="button"
                  className="link"
                  title="Show only this actor"
                  onClick={() => {
                    const f = { ...filters, actor: ev.actor_id };
                    setDraft(f);
                    setFilters(f);
                    setCursors([undefined]);
                  }}
                >
                  {actorLabel(ev.actor_id)}
                </button>
              </td>
              <td title={ev.subject_id}>{subjectLabel(ev)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      <nav className="pager" aria-label="Audit pages">
        <button
          type="button"
          className="secondary"
          disabled={cursors.length <= 1}
          onClick={() => setCursors((cs) => cs.slice(0, -1))}
        >
          Newer
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          className="secondary"
          disabled={!next}
          onClick={() => next && setCursors((cs) => [...cs, next])}
        >
          Older
        </button>
      </nav>
    </section>
  );
}
