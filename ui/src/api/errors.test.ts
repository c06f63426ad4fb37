import { describe, expect, it } from 'vitest';
import {
  ApiError,
  describeError,
  kTaskConflictMessage,
  parseRetryAfter,
  toApiError,
} from './errors';

const err = (status: number, type = '', detail = '', extra: Partial<ApiError> = {}) =>
  new ApiError({ status, type: `https://trellis.dev/problems/${type}`, detail, ...extra });

describe('describeError', () => {
  it('explains each status in words a person understands', () => {
    expect(describeError(err(404, 'not-found'), { thing: 'task' })).toBe(
      'This task does not exist, or you no longer have access to it.',
    );
    expect(describeError(err(403, 'forbidden', 'needs role admin'))).toMatch(
      /^You don't have permission to do this \(needs role admin\)/,
    );
    expect(describeError(err(409, 'already-exists', 'slug is taken'))).toBe(
      'That is already taken (slug is taken). Choose another value.',
    );
    expect(describeError(err(409, 'conflict', 'the project is archived'))).toBe(
      "This can't be done right now (the project is archived).",
    );
    expect(describeError(err(412, 'precondition-failed'), { thing: 'project' })).toBe(
      'This project was changed by someone else — the latest version has been loaded; try again.',
    );
    expect(describeError(new ApiError({ status: 429, retryAfter: 7 }))).toBe(
      'Too many requests right now. Wait 7 seconds and try again.',
    );
    expect(describeError(new ApiError({ status: 503, requestId: 'r-9' }))).toBe(
      'Trellis had a problem and could not finish this (request id r-9). Try again in a moment.',
    );
    expect(describeError(new ApiError({ status: 0, type: 'network' }))).toMatch(
      /could not be reached/,
    );
    expect(describeError(err(400, 'bad-request', 'invalid cursor'))).toMatch(
      /Start again from the first page/,
    );
  });

  it('lists field errors of a 422', () => {
    const e = new ApiError({
      status: 422,
      fieldErrors: [
        { pointer: '/due_date', detail: 'must be a date' },
        { pointer: '/title', detail: 'must not be blank' },
      ],
    });
    expect(describeError(e)).toBe(
      'Please check what you entered — due date: must be a date; title: must not be blank.',
    );
  });

  it('has the board conflict message', () => {
    expect(kTaskConflictMessage).toBe(
      'This task was changed by someone else — the board has been refreshed; try again.',
    );
  });
});

describe('toApiError and parseRetryAfter', () => {
  it('wraps anything thrown', () => {
    const e = toApiError(new Error('boom'));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(0);
    const same = err(404);
    expect(toApiError(same)).toBe(same);
  });

  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-11-24T10:00:00Z');
    expect(parseRetryAfter('Tue, 24 Nov 2026 10:00:30 GMT', now)).toBe(30);
  });
});
