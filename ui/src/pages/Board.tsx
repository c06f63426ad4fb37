// `/orgs/:org/projects/:project`: the board. Tasks in columns by status; a card moves by drag
// and drop, by its "Move to" buttons, or with the arrow keys when focused (only the moves the
// status graph allows). A move is a PATCH with If-Match; when someone else changed the task
// first (412), the board reloads and says so. Changes by others arrive live.
import {
  useCallback,
  useEffect,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
} from 'react';
import { Link, useParams } from 'react-router';
import { allPages, etagOfVersion, type Project, type Task, type TaskStatus } from '../api/client';
import { describeError, kTaskConflictMessage, toApiError } from '../api/errors';
import { useAnnounce } from '../app/Announcer';
import { useApp } from '../app/AppContext';
import { atLeast, useOrg } from '../app/OrgContext';
import {
  allowedMoves,
  canMove,
  kStatusLabels,
  kStatuses,
  neighbourMove,
} from '../board/transitions';
import { kPriorities, priorityLabel } from '../board/labels';
import { Empty, ErrorBox, Loading } from '../components/Feedback';
import { SelectField, TextField } from '../components/Field';
import { useLiveEvents, useLiveState } from '../live/LiveEvents';

/** Newer versions win; an older copy (a late event) never replaces a newer one. */
export function upsertTask(tasks: Task[], task: Task): Task[] {
  const index = tasks.findIndex((t) => t.id === task.id);
  if (index < 0) return [task, ...tasks];
  if (tasks[index].version > task.version) return tasks;
  const next = tasks.slice();
  next[index] = task;
  return next;
}

export function Board() {
  const { project: projectId = '' } = useParams();
  const { api } = useApp();
  const { org, role } = useOrg();
  const announce = useAnnounce();
  const [project, setProject] = useState<Project | null>(null);
  const [projectEtag, setProjectEtag] = useState('');
  const live = useLiveState();
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [moveError, setMoveError] = useState<string | null>(null);
  const [dragging, setDragging] = useState<Task | null>(null);
  const [dropTarget, setDropTarget] = useState<TaskStatus | null>(null);
  const [focusId, setFocusId] = useState<string | null>(null);
  const [busyId, setBusyId] = useState<string | null>(null);
  const cardRefs = useRef(new Map<string, HTMLLIElement>());
  const canEdit = atLeast(role, 'member') && !project?.archived;

  const load = useCallback(async () => {
    try {
      const [{ data }, items] = await Promise.all([
        api.getProject(org.id, projectId),
        allPages((cursor) => api.listTasks(org.id, projectId, { cursor, limit: 200 })),
      ]);
      setProject(data);
      setProjectEtag(etagOfVersion(data));
      setTasks(items);
      setError(null);
    } catch (e) {
      setError(describeError(e, { thing: 'project' }));
    }
  }, [api, org.id, projectId]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (!focusId) return;
    cardRefs.current.get(focusId)?.focus();
    setFocusId(null);
  }, [focusId, tasks]);

  useLiveEvents((m) => {
    if (m.kind === 'reset') {
      void load();
      return;
    }
    const { event } = m;
    if (event.type.startsWith('work.task.')) {
      const task = event.payload as unknown as Task;
      if (task.project_id !== projectId) return;
      if (event.type === 'work.task.deleted') {
        setTasks((ts) => ts && ts.filter((t) => t.id !== task.id));
      } else {
        setTasks((ts) => ts && upsertTask(ts, task));
      }
    } else if (event.type.startsWith('work.project.') && event.subject_id === projectId) {
      const fresh = event.payload as unknown as Project;
      setProject(fresh);
      setProjectEtag(etagOfVersion(fresh));
    }
  });

  async function move(task: Task, to: TaskStatus, keepFocus: boolean) {
    if (!canMove(task.status, to)) {
      announce(
        `"${task.title}" cannot move from ${kStatusLabels[task.status]} to ${kStatusLabels[to]}.`,
      );
      return;
    }
    setBusyId(task.id);
    setMoveError(null);
    try {
      const { data } = await api.updateTask(org.id, task.id, { status: to }, etagOfVersion(task));
      setTasks((ts) => ts && upsertTask(ts, data));
      announce(`Moved "${task.title}" to ${kStatusLabels[to]}.`);
      if (keepFocus) setFocusId(task.id);
    } catch (e) {
      const err = toApiError(e);
      if (err.status === 412) {
        setMoveError(kTaskConflictMessage);
        announce(kTaskConflictMessage);
        await load();
      } else {
        const message = describeError(err, { thing: 'task' });
        setMoveError(message);
        announce(message);
      }
    } finally {
      setBusyId(null);
    }
  }

  async function toggleArchived() {
    if (!project) return;
    setMoveError(null);
    try {
      const { data, etag } = await api.updateProject(
        org.id,
        project.id,
        { archived: !project.archived },
        projectEtag,
      );
      setProject(data);
      setProjectEtag(etag);
      announce(data.archived ? 'Project archived; it is read-only now.' : 'Project unarchived.');
    } catch (e) {
      setMoveError(describeError(e, { thing: 'project' }));
      if (toApiError(e).status === 412) void load();
    }
  }

  function onCardKey(e: KeyboardEvent<HTMLLIElement>, task: Task) {
    if (e.target !== e.currentTarget || !canEdit) return;
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      const to = neighbourMove(task.status, e.key === 'ArrowRight' ? 1 : -1);
      if (to) void move(task, to, true);
      else
        announce(
          `"${task.title}" cannot move ${e.key === 'ArrowRight' ? 'right' : 'left'} from ${kStatusLabels[task.status]}.`,
        );
    }
  }

  if (error) return <ErrorBox message={error} onRetry={() => void load()} />;
  if (!project || !tasks) return <Loading what="Loading the board" />;

  return (
    <section className="board-page">
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to={`/orgs/${org.id}/projects`}>Projects</Link> <span aria-hidden="true">/</span>{' '}
        <span>{project.name}</span>
      </nav>
      <div className="page-head">
        <h1>
          {project.name}
          {project.archived ? <span className="badge">archived (read-only)</span> : null}
        </h1>
        <div className="actions">
          <span className={`live live-${live}`} title="Changes by others appear without reloading">
            {live === 'open' ? 'Live' : live === 'connecting' ? 'Reconnecting…' : 'Offline'}
          </span>
          {atLeast(role, 'admin') ? (
            <button type="button" className="secondary" onClick={() => void toggleArchived()}>
              {project.archived ? 'Unarchive project' : 'Archive project'}
            </button>
          ) : null}
        </div>
      </div>
      {project.description ? <p className="muted">{project.description}</p> : null}
      {canEdit ? (
        <NewTask
          projectId={projectId}
          onCreated={(t) => setTasks((ts) => ts && upsertTask(ts, t))}
        />
      ) : null}
      <ErrorBox message={moveError} />
      {tasks.length === 0 ? (
        <Empty>No tasks yet{canEdit ? ' — create the first one.' : '.'}</Empty>
      ) : null}
      {canEdit ? (
        <p className="hint" id="board-help">
          Drag a card to another column, or focus a card and press the left or right arrow key; each
          card also has buttons for the moves it allows.
        </p>
      ) : null}
      <div className="board">
        {kStatuses.map((status) => {
          const column = tasks.filter((t) => t.status === status);
          const accepts = dragging !== null && canMove(dragging.status, status);
          return (
            <section
              key={status}
              className={[
                'column',
                accepts ? 'can-drop' : '',
                dropTarget === status && accepts ? 'drop-here' : '',
              ].join(' ')}
              aria-labelledby={`col-${status}`}
              data-status={status}
              onDragOver={(e) => {
                if (!accepts) return;
                e.preventDefault();
                e.dataTransfer.dropEffect = 'move';
                setDropTarget(status);
              }}
              onDragLeave={() => setDropTarget((s) => (s === status ? null : s))}
              onDrop={(e) => {
                e.preventDefault();
                const task = dragging;
                setDragging(null);
                setDropTarget(null);
                if (task && task.status !== status) void move(task, status, false);
              }}
            >
              <h2 id={`col-${status}`}>
                {kStatusLabels[status]} <span className="count">{column.length}</span>
              </h2>
              <ul className="cards">
                {column.map((task) => (
                  <li
                    key={task.id}
                    ref={(el) => {
                      if (el) cardRefs.current.set(task.id, el);
                      else cardRefs.current.delete(task.id);
                    }}
                    className={busyId === task.id ? 'card busy' : 'card'}
                    tabIndex={0}
                    draggable={canEdit}
                    data-task-id={task.id}
                    aria-label={`${task.title}, ${kStatusLabels[task.status]}`}
                    aria-describedby={canEdit ? 'board-help' : undefined}
                    onKeyDown={(e) => onCardKey(e, task)}
                    onDragStart={(e) => {
                      e.dataTransfer.setData('text/plain', task.id);
                      e.dataTransfer.effectAllowed = 'move';
                      setDragging(task);
                    }}
                    onDragEnd={() => {
                      setDragging(null);
                      setDropTarget(null);
                    }}
                  >
                    <Link to={`/orgs/${org.id}/tasks/${task.id}`} className="card-title">
                      {task.title}
                    </Link>
                    <div className="card-meta">
                      {task.priority ? (
                        <span className={`priority p${task.priority}`}>
                          {priorityLabel(task.priority)}
                        </span>
                      ) : null}
                      {task.due_date ? <span>Due {task.due_date}</span> : null}
                      {task.labels.map((l) => (
                        <span key={l} className="label">
                          {l}
                        </span>
                      ))}
                    </div>
                    {canEdit ? (
                      <div className="card-moves" role="group" aria-label={`Move "${task.title}"`}>
                        {allowedMoves(task.status).map((to) => (
                          <button
                            key={to}
                            type="button"
                            className="move"
                            aria-label={`Move to ${kStatusLabels[to]}`}
                            disabled={busyId === task.id}
                            onClick={() => void move(task, to, true)}
                          >
                            {kStatusLabels[to]}
                          </button>
                        ))}
                      </div>
                    ) : null}
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
    </section>
  );
}

function NewTask({ projectId, onCreated }: { projectId: string; onCreated: (task: Task) => void }) {
  const { api } = useApp();
  const { org } = useOrg();
  const announce = useAnnounce();
  const [title, setTitle] = useState('');
  const [priority, setPriority] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [titleError, setTitleError] = useState<string | undefined>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setTitleError(undefined);
    try {
      const { data } = await api.createTask(org.id, projectId, { title: title.trim(), priority });
      onCreated(data);
      setTitle('');
      announce(`Created task "${data.title}" in To do.`);
    } catch (err) {
      const apiError = toApiError(err);
      setTitleError(apiError.fieldError('/title'));
      setError(describeError(apiError, { thing: 'task' }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="new-task" onSubmit={(e) => void submit(e)}>
      <TextField
        id="new-task-title"
        label="New task"
        grow
        required
        maxLength={200}
        placeholder="What needs doing?"
        value={title}
        error={titleError}
        errorId="new-task-error"
        onChange={setTitle}
      />
      <SelectField
        id="new-task-priority"
        label="Priority"
        value={priority}
        options={kPriorities}
        optionLabel={priorityLabel}
        onChange={setPriority}
      />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Adding…' : 'Add task'}
      </button>
      <ErrorBox message={error} />
    </form>
  );
}
