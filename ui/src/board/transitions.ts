// The task status graph of the work context (services/work/domain/work_rules.hpp), so the board
// offers only the moves the server allows:
//
//   todo        -> in_progress, canceled
//   in_progress -> done, todo, canceled
//   done        -> in_progress            (reopen)
//   canceled    -> todo                   (restore)
import type { TaskStatus } from '../api/client';

export const kStatuses: readonly TaskStatus[] = ['todo', 'in_progress', 'done', 'canceled'];

export const kStatusLabels: Record<TaskStatus, string> = {
  todo: 'To do',
  in_progress: 'In progress',
  done: 'Done',
  canceled: 'Canceled',
};

const kGraph: Record<TaskStatus, readonly TaskStatus[]> = {
  todo: ['in_progress', 'canceled'],
  in_progress: ['done', 'todo', 'canceled'],
  done: ['in_progress'],
  canceled: ['todo'],
};

/** The statuses a task in `from` may move to (not itself). */
export function allowedMoves(from: TaskStatus): TaskStatus[] {
  return [...kGraph[from]];
}

/** Whether the board offers moving a card from `from` to `to` (a move to itself is not one). */
export function canMove(from: TaskStatus, to: TaskStatus): boolean {
  return from !== to && kGraph[from].includes(to);
}

/**
 * The keyboard move: the neighbouring column to the left (-1) or right (+1), when the graph
 * allows moving there; null otherwise.
 */
export function neighbourMove(from: TaskStatus, direction: -1 | 1): TaskStatus | null {
  const to = kStatuses[kStatuses.indexOf(from) + direction];
  return to !== undefined && canMove(from, to) ? to : null;
}
