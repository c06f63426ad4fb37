import { describe, expect, it } from 'vitest';
import { allowedMoves, canMove, kStatuses, neighbourMove } from './transitions';

describe('the task status graph (as work_rules.hpp)', () => {
  it('offers exactly the server-allowed moves', () => {
    expect(allowedMoves('todo')).toEqual(['in_progress', 'canceled']);
    expect(allowedMoves('in_progress')).toEqual(['done', 'todo', 'canceled']);
    expect(allowedMoves('done')).toEqual(['in_progress']);
    expect(allowedMoves('canceled')).toEqual(['todo']);
  });

  it('refuses the moves the server refuses, and staying put', () => {
    expect(canMove('todo', 'done')).toBe(false);
    expect(canMove('done', 'todo')).toBe(false);
    expect(canMove('done', 'canceled')).toBe(false);
    expect(canMove('canceled', 'in_progress')).toBe(false);
    expect(canMove('canceled', 'done')).toBe(false);
    for (const s of kStatuses) expect(canMove(s, s)).toBe(false);
    expect(canMove('done', 'in_progress')).toBe(true);
    expect(canMove('canceled', 'todo')).toBe(true);
  });

  it('moves to the neighbouring column with the arrow keys only when allowed', () => {
    expect(neighbourMove('todo', 1)).toBe('in_progress');
    expect(neighbourMove('todo', -1)).toBeNull();
    expect(neighbourMove('in_progress', 1)).toBe('done');
    expect(neighbourMove('in_progress', -1)).toBe('todo');
    expect(neighbourMove('done', 1)).toBeNull();
    expect(neighbourMove('done', -1)).toBe('in_progress');
    expect(neighbourMove('canceled', -1)).toBeNull();
    expect(neighbourMove('canceled', 1)).toBeNull();
  });
});
