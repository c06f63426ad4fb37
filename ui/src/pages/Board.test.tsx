import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { describe, expect, it, vi } from 'vitest';
import type { Api, Project, Task } from '../api/client';
import { ApiError, kTaskConflictMessage } from '../api/errors';
import { LiveEventsProvider } from '../live/LiveEvents';
import { Providers } from '../test/contexts';
import { Board, upsertTask } from './Board';

const project: Project = {
  id: 'p1',
  org_id: 'org-1',
  name: 'Launch',
  description: '',
  archived: false,
  created_by: 'u1',
  created_at: '2026-11-24T10:00:00.000Z',
  updated_at: '2026-11-24T10:00:00.000Z',
  version: 1,
};

function makeTask(over: Partial<Task>): Task {
  return {
    id: 't1',
    org_id: 'org-1',
    project_id: 'p1',
    title: 'Write the post',
    description: '',
    status: 'todo',
    priority: 0,
    assignee_id: null,
    due_date: null,
    labels: [],
    created_by: 'u1',
    created_at: '2026-11-24T10:00:00.000Z',
    updated_at: '2026-11-24T10:00:00.000Z',
    version: 1,
    ...over,
  };
}

async function renderBoard(api: Partial<Api>, role: 'owner' | 'viewer' = 'owner') {
  render(
    <MemoryRouter initialEntries={['/orgs/org-1/projects/p1']}>
      <Providers api={api} role={role}>
        <Routes>
          <Route path="/orgs/:org/projects/:project" element={<Board />} />
        </Routes>
      </Providers>
    </MemoryRouter>,
  );
  await screen.findByRole('heading', { level: 1, name: /Launch/ });
}

const column = (status: string) =>
  document.querySelector(`section.column[data-status="${status}"]`) as HTMLElement;

describe('Board', () => {
  it('moves a card with If-Match and announces it', async () => {
    const updateTask = vi.fn(async () => ({
      data: makeTask({ status: 'in_progress', version: 2 }),
      etag: '"2"',
    }));
    await renderBoard({
      getProject: async () => ({ data: project, etag: '"1"' }),
      listTasks: async () => ({ items: [makeTask({})], next_cursor: null }),
      updateTask,
    });
    const card = await within(column('todo')).findByRole('link', { name: 'Write the post' });
    expect(card).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Move to In progress' }));
    await within(column('in_progress')).findByRole('link', { name: 'Write the post' });
    expect(updateTask).toHaveBeenCalledWith('org-1', 't1', { status: 'in_progress' }, '"1"');
    await waitFor(() =>
      expect(screen.getByTestId('announcer').textContent).toBe(
        'Moved "Write the post" to In progress.',
      ),
    );
  });

  it('offers only allowed moves, and arrow keys follow the graph', async () => {
    const updateTask = vi.fn();
    await renderBoard({
      getProject: async () => ({ data: project, etag: '"1"' }),
      listTasks: async () => ({
        items: [makeTask({ status: 'done', title: 'Shipped' })],
        next_cursor: null,
      }),
      updateTask,
    });
    await within(column('done')).findByRole('link', { name: 'Shipped' });
    const card = column('done').querySelector('li.card') as HTMLElement;
    const moves = within(card)
      .getAllByRole('button')
      .map((b) => b.getAttribute('aria-label'));
    expect(moves).toEqual(['Move to In progress']);
    // Right of done is canceled: not allowed, so nothing is sent.
    act(() => card.focus());
    fireEvent.keyDown(card, { key: 'ArrowRight' });
    expect(updateTask).not.toHaveBeenCalled();
  });

  it('says so clearly and reloads the board when someone else moved the task first (412)', async () => {
    const listTasks = vi
      .fn()
      .mockResolvedValueOnce({ items: [makeTask({})], next_cursor: null })
      .mockResolvedValueOnce({
        items: [makeTask({ status: 'canceled', version: 2 })],
        next_cursor: null,
      });
    await renderBoard({
      getProject: async () => ({ data: project, etag: '"1"' }),
      listTasks,
      updateTask: async () => {
        throw new ApiError({
          status: 412,
          type: 'https://trellis.dev/problems/precondition-failed',
          detail: 'version mismatch',
        });
      },
    });
    const card = await within(column('todo')).findByRole('listitem');
    act(() => card.focus());
    fireEvent.keyDown(card, { key: 'ArrowRight' });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe(kTaskConflictMessage);
    await within(column('canceled')).findByRole('link', { name: 'Write the post' });
    expect(listTasks).toHaveBeenCalledTimes(2);
  });

  it('shows the empty state and no move buttons to a viewer', async () => {
    await renderBoard(
      {
        getProject: async () => ({ data: project, etag: '"1"' }),
        listTasks: async () => ({ items: [], next_cursor: null }),
      },
      'viewer',
    );
    await screen.findByText('No tasks yet.');
    expect(screen.queryByLabelText('New task')).toBeNull();
  });

  it('never lets an older copy of a task replace a newer one', () => {
    const newer = makeTask({ version: 3, status: 'done' });
    const older = makeTask({ version: 2, status: 'todo' });
    expect(upsertTask([newer], older)).toEqual([newer]);
    expect(upsertTask([older], newer)).toEqual([newer]);
    expect(upsertTask([], older)).toEqual([older]);
  });

  it('patches the board from the live stream: a task created by someone else appears', async () => {
    const created = makeTask({ id: 't9', title: 'From a teammate', version: 1 });
    const event = {
      id: 'e1',
      type: 'work.task.created',
      org_id: 'org-1',
      actor_id: 'u2',
      subject_id: 't9',
      occurred_at: created.created_at,
      payload: created,
    };
    let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      expect((init?.headers as Record<string, string>).Authorization).toBe('Bearer tok');
      return new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            controller = c;
          },
        }),
        { status: 200, headers: { 'content-type': 'text/event-stream' } },
      );
    });
    vi.stubGlobal('fetch', fetchMock);
    render(
      <MemoryRouter initialEntries={['/orgs/org-1/projects/p1']}>
        <Providers
          api={{
            getProject: async () => ({ data: project, etag: '"1"' }),
            listTasks: async () => ({ items: [], next_cursor: null }),
          }}
        >
          <LiveEventsProvider url="/api/v1/orgs/org-1/events">
            <Routes>
              <Route path="/orgs/:org/projects/:project" element={<Board />} />
            </Routes>
          </LiveEventsProvider>
        </Providers>
      </MemoryRouter>,
    );
    await screen.findByText('No tasks yet — create the first one.');
    await waitFor(() => expect(controller).not.toBeNull());
    const frame = `id: 5\nevent: work.task.created\ndata: ${JSON.stringify(event)}\n\n`;
    act(() => controller!.enqueue(new TextEncoder().encode(frame)));
    await within(column('todo')).findByRole('link', { name: 'From a teammate' });
    expect(fetchMock).toHaveBeenCalledWith('/api/v1/orgs/org-1/events', expect.anything());
    vi.unstubAllGlobals();
  });
});
