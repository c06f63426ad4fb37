// `/orgs/:org/tasks/:task`: a task's fields (title, description, status, priority, due date,
// labels, assignee), saved with If-Match, and its comments (add; edit and delete your own; an
// admin deletes any).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import {
  allPages,
  etagOfVersion,
  type Comment,
  type Member,
  type Task,
  type TaskStatus,
} from '../api/client';
import { describeError, toApiError } from '../api/errors';
import { useAnnounce } from '../app/Announcer';
import { useApp } from '../app/AppContext';
import { atLeast, useOrg } from '../app/OrgContext';
import { kPriorities, priorityLabel } from '../board/labels';
import { allowedMoves, kStatusLabels } from '../board/transitions';
import { Empty, ErrorBox, Loading, Notice } from '../components/Feedback';
import { SelectField, TextAreaField, TextField } from '../components/Field';
import { useLiveEvents } from '../live/LiveEvents';

interface Draft {
  title: string;
  description: string;
  status: TaskStatus;
  priority: number;
  due_date: string;
  labels: string;
  assignee_id: string;
}

function draftOf(task: Task): Draft {
  return {
    title: task.title,
    description: task.description,
    status: task.status,
    priority: task.priority,
    due_date: task.due_date ?? '',
    labels: task.labels.join(', '),
    assignee_id: task.assignee_id ?? '',
  };
}

function parseLabels(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ].sort();
}

export function TaskDetail() {
  const { task: taskId = '' } = useParams();
  const { api, me } = useApp();
  const { org, role } = useOrg();
  const announce = useAnnounce();
  const navigate = useNavigate();
  const [task, setTask] = useState<Task | null>(null);
  const [etag, setEtag] = useState('');
  const [draft, setDraft] = useState<Draft | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string | undefined>>({});
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const canEdit = atLeast(role, 'member');
  const canDelete =
    task !== null && (atLeast(role, 'admin') || (canEdit && task.created_by === me?.user?.id));

  const load = useCallback(async () => {
    try {
      const { data, etag: tag } = await api.getTask(org.id, taskId);
      setTask(data);
      setEtag(tag);
      setDraft(draftOf(data));
      setError(null);
    } catch (e) {
      setError(describeError(e, { thing: 'task' }));
    }
  }, [api, org.id, taskId]);

  useEffect(() => {
    void load();
    allPages((cursor) => api.listMembers(org.id, { cursor, limit: 200 }))
      .then((ms) => setMembers(ms.filter((m) => m.status === 'active' && m.user_id)))
      .catch(() => setMembers([]));
  }, [load, api, org.id]);

  useLiveEvents((m) => {
    if (m.kind !== 'event' || m.event.subject_id !== taskId) return;
    if (m.event.type !== 'work.task.updated') return;
    const fresh = m.event.payload as unknown as Task;
    if (!task || !draft || fresh.version <= task.version) return;
    // Someone else's change: show it, keeping the form's unsaved edits if there are any.
    const untouched = JSON.stringify(draft) === JSON.stringify(draftOf(task));
    setTask(fresh);
    setEtag(etagOfVersion(fresh));
    if (untouched) setDraft(draftOf(fresh));
  });

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!task || !draft) return;
    const body: Record<string, unknown> = {};
    const before = draftOf(task);
    if (draft.title !== before.title) body.title = draft.title.trim();
    if (draft.description !== before.description) body.description = draft.description;
    if (draft.status !== before.status) body.status = draft.status;
    if (draft.priority !== before.priority) body.priority = draft.priority;
    if (draft.due_date !== before.due_date) body.due_date = draft.due_date || null;
    if (draft.labels !== before.labels) body.labels = parseLabels(draft.labels);
    if (draft.assignee_id !== before.assignee_id) body.assignee_id = draft.assignee_id || null;
    if (Object.keys(body).length === 0) {
      setSaved('Nothing to save.');
      return;
    }
    setBusy(true);
    setSaveError(null);
    setSaved(null);
    setFieldErrors({});
    try {
      const { data, etag: tag } = await api.updateTask(org.id, task.id, body, etag);
      setTask(data);
      setEtag(tag);
      setDraft(draftOf(data));
      setSaved('Saved.');
      announce('Task saved.');
    } catch (err) {
      const apiError = toApiError(err);
      const fields: Record<string, string | undefined> = {};
      for (const f of apiError.fieldErrors) fields[f.pointer.split('/')[1] ?? ''] = f.detail;
      setFieldErrors(fields);
      if (apiError.status === 412) {
        setSaveError(
          'This task was changed by someone else — their version is shown now; make your change again.',
        );
        await load();
      } else {
        setSaveError(describeError(apiError, { thing: 'task' }));
      }
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!task || !window.confirm(`Delete the task "${task.title}"? This cannot be undone.`)) return;
    try {
      await api.deleteTask(org.id, task.id, etag);
      navigate(`/orgs/${org.id}/projects/${task.project_id}`);
    } catch (e) {
      setSaveError(describeError(e, { thing: 'task' }));
    }
  }

  if (error) return <ErrorBox message={error} onRetry={() => void load()} />;
  if (!task || !draft) return <Loading what="Loading the task" />;
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) =>
    setDraft({ ...draft, [key]: value });

  return (
    <section className="task-page">
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to={`/orgs/${org.id}/projects`}>Projects</Link> <span aria-hidden="true">/</span>{' '}
        <Link to={`/orgs/${org.id}/projects/${task.project_id}`}>Board</Link>{' '}
        <span aria-hidden="true">/</span> <span>Task</span>
      </nav>
      <h1>{task.title}</h1>
      <p className="muted">
        {kStatusLabels[task.status]} · {priorityLabel(task.priority)} · updated{' '}
        {new Date(task.updated_at).toLocaleString()}
      </p>
      <div className="task-layout">
        <form className="panel stack" onSubmit={(e) => void save(e)} aria-label="Task details">
          <fieldset disabled={!canEdit || busy}>
            <legend className="visually-hidden">Task details</legend>
            <TextField
              id="task-title"
              label="Title"
              required
              maxLength={200}
              value={draft.title}
              error={fieldErrors.title}
              onChange={(value) => set('title', value)}
            />
            <TextAreaField
              id="task-description"
              label="Description"
              rows={5}
              maxLength={20000}
              value={draft.description}
              error={fieldErrors.description}
              onChange={(value) => set('description', value)}
            />
            <div className="field-row">
              <SelectField
                id="task-status"
                label="Status"
                value={draft.status}
                options={[task.status, ...allowedMoves(task.status)]}
                optionLabel={(s) => kStatusLabels[s]}
                onChange={(value) => set('status', value)}
              />
              <SelectField
                id="task-priority"
                label="Priority"
                value={draft.priority}
                options={kPriorities}
                optionLabel={priorityLabel}
                onChange={(value) => set('priority', value)}
              />
              <TextField
                id="task-due"
                label="Due date"
                type="date"
                value={draft.due_date}
                error={fieldErrors.due_date}
                onChange={(value) => set('due_date', value)}
              />
            </div>
            <div className="field-row">
              <SelectField
                id="task-assignee"
                label="Assignee"
                value={draft.assignee_id}
                options={['', ...members.map((m) => m.user_id ?? '')]}
                optionLabel={(id) =>
                  id ? members.find((m) => m.user_id === id)?.email || id : 'Nobody'
                }
                error={fieldErrors.assignee_id}
                onChange={(value) => set('assignee_id', value)}
              />
              <TextField
                id="task-labels"
                label="Labels (comma-separated)"
                grow
                value={draft.labels}
                error={fieldErrors.labels}
                onChange={(value) => set('labels', value)}
              />
            </div>
          </fieldset>
          <ErrorBox message={saveError} />
          <Notice message={saved} />
          {canEdit ? (
            <div className="actions">
              <button type="submit" className="primary" disabled={busy}>
                {busy ? 'Saving…' : 'Save changes'}
              </button>
              {canDelete ? (
                <button type="button" className="danger" onClick={() => void remove()}>
                  Delete task
                </button>
              ) : null}
            </div>
          ) : (
            <p className="muted">Viewers can read tasks but not change them.</p>
          )}
        </form>
        <Comments taskId={task.id} members={members} />
      </div>
    </section>
  );
}

function Comments({ taskId, members }: { taskId: string; members: Member[] }) {
  const { api, me } = useApp();
  const { org, role } = useOrg();
  const announce = useAnnounce();
  const [comments, setComments] = useState<Comment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState<{ id: string; body: string } | null>(null);
  const canComment = atLeast(role, 'member');
  const myId = me?.user?.id;

  const load = useCallback(async () => {
    try {
      setComments(
        await allPages((cursor) => api.listComments(org.id, taskId, { cursor, limit: 200 })),
      );
    } catch (e) {
      setError(describeError(e, { thing: 'comment' }));
    }
  }, [api, org.id, taskId]);

  useEffect(() => {
    void load();
  }, [load]);

  useLiveEvents((m) => {
    if (m.kind === 'reset') void load();
    else if (m.event.type.startsWith('work.comment.')) {
      const c = m.event.payload as unknown as Comment;
      if (c.task_id === taskId) void load();
    }
  });

  async function add(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { data } = await api.createComment(org.id, taskId, body);
      setComments((cs) => (cs ? [...cs.filter((c) => c.id !== data.id), data] : [data]));
      setBody('');
      announce('Comment added.');
    } catch (err) {
      setError(describeError(err, { thing: 'comment' }));
    } finally {
      setBusy(false);
    }
  }

  async function saveEdit(comment: Comment) {
    if (!editing) return;
    try {
      const { data } = await api.updateComment(
        org.id,
        taskId,
        comment.id,
        editing.body,
        etagOfVersion(comment),
      );
      setComments((cs) => cs && cs.map((c) => (c.id === data.id ? data : c)));
      setEditing(null);
      announce('Comment updated.');
    } catch (err) {
      setError(describeError(err, { thing: 'comment' }));
      if (toApiError(err).status === 412) void load();
    }
  }

  async function remove(comment: Comment) {
    if (!window.confirm('Delete this comment?')) return;
    try {
      await api.deleteComment(org.id, taskId, comment.id, etagOfVersion(comment));
      setComments((cs) => cs && cs.filter((c) => c.id !== comment.id));
      announce('Comment deleted.');
    } catch (err) {
      setError(describeError(err, { thing: 'comment' }));
    }
  }

  return (
    <section className="panel comments" aria-labelledby="comments-heading">
      <h2 id="comments-heading">Comments</h2>
      <ErrorBox message={error} />
      {comments === null && !error ? <Loading what="Loading comments" /> : null}
      {comments && comments.length === 0 ? <Empty>No comments yet.</Empty> : null}
      <ol className="comment-list">
        {(comments ?? []).map((c) => {
          const mine = c.author_id === myId;
          return (
            <li key={c.id} className="comment">
              <p className="comment-meta">
                {mine
                  ? 'You'
                  : (members.find((m) => m.user_id === c.author_id)?.email ?? 'A teammate')}{' '}
                · {new Date(c.created_at).toLocaleString()}
                {c.updated_at !== c.created_at ? ' · edited' : ''}
              </p>
              {editing?.id === c.id ? (
                <div className="stack">
                  <label htmlFor={`edit-${c.id}`} className="visually-hidden">
                    Edit comment
                  </label>
                  <textarea
                    id={`edit-${c.id}`}
                    rows={3}
                    value={editing.body}
                    onChange={(e) => setEditing({ id: c.id, body: e.target.value })}
                  />
                  <div className="actions">
                    <button type="button" className="primary" onClick={() => void saveEdit(c)}>
                      Save comment
                    </button>
                    <button type="button" className="secondary" onClick={() => setEditing(null)}>
                      Cancel
                    </button>
                  </div>
                </div>
              ) : (
                <p className="comment-body">{c.body}</p>
              )}
              {editing?.id !== c.id ? (
                <div className="actions small">
                  {mine && canComment ? (
                    <button
                      type="button"
                      className="link"
                      onClick={() => setEditing({ id: c.id, body: c.body })}
                    >
                      Edit
                    </button>
                  ) : null}
                  {(mine && canComment) || atLeast(role, 'admin') ? (
                    <button type="button" className="link danger" onClick={() => void remove(c)}>
                      Delete
                    </button>
                  ) : null}
                </div>
              ) : null}
            </li>
          );
        })}
      </ol>
      {canComment ? (
        <form className="stack" onSubmit={(e) => void add(e)}>
          <label htmlFor="new-comment">Add a comment</label>
          <textarea
            id="new-comment"
            rows={3}
            required
            maxLength={10000}
            value={body}
            onChange={(e) => setBody(e.target.value)}
          />
          <div>
            <button type="submit" className="primary" disabled={busy || !body.trim()}>
              {busy ? 'Posting…' : 'Post comment'}
            </button>
          </div>
        </form>
      ) : null}
    </section>
  );
}
