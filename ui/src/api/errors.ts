// Errors from the API as one typed value, and the words a person reads for them.
//
// Every error answer is RFC 9457 problem+json (docs/api-conventions.md). `toApiError` turns an
// axios failure (or anything thrown) into an `ApiError`; `describeError` says what happened in
// plain words; field errors (`errors[]`, JSON pointers) go next to their fields:
//
//   catch (e) { const err = toApiError(e); setMessage(describeError(err, { thing: 'task' }));
//               setTitleError(err.fieldError('/title')); }
import { isAxiosError } from 'axios';
import type { components } from './schema';

export type Problem = components['schemas']['Problem'];
export type FieldError = components['schemas']['FieldError'];

const kProblemPrefix = 'https://trellis.dev/problems/';

export class ApiError extends Error {
  readonly status: number;
  /** The stable problem type without its prefix: 'not-found', 'validation', ... ('' if none). */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly fieldErrors: FieldError[];
  readonly requestId: string | undefined;
  /** Seconds from Retry-After, when the answer had one. */
  readonly retryAfter: number | undefined;

  constructor(init: {
    status: number;
    type?: string;
    title?: string;
    detail?: string;
    fieldErrors?: FieldError[];
    requestId?: string;
    retryAfter?: number;
  }) {
    super(init.detail || init.title || `HTTP ${init.status}`);
    this.name = 'ApiError';
    this.status = init.status;
    this.type = (init.type ?? '').replace(kProblemPrefix, '');
    this.title = init.title ?? '';
    this.detail = init.detail ?? '';
    this.fieldErrors = init.fieldErrors ?? [];
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }

  /** The message for one field (a JSON pointer such as '/title'), if the server named it. */
  fieldError(pointer: string): string | undefined {
    return this.fieldErrors.find((e) => e.pointer === pointer)?.detail;
  }

  get isConflict(): boolean {
    return this.status === 412;
  }
}

function isProblem(body: unknown): body is Problem {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as Problem).status === 'number' &&
    typeof (body as Problem).type === 'string'
  );
}

/** Seconds from a Retry-After value (delta-seconds or an HTTP date); undefined if absent. */
export function parseRetryAfter(value: unknown, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isAxiosError(error)) {
    const response = error.response;
    if (!response) {
      return new ApiError({ status: 0, type: 'network', detail: error.message });
    }
    const headers = response.headers ?? {};
    const requestId =
      (headers['x-request-id'] as string | undefined) ??
      (error.config?.headers?.['X-Request-Id'] as string | undefined);
    const retryAfter = parseRetryAfter(headers['retry-after']);
    const body: unknown = response.data;
    if (isProblem(body)) {
      return new ApiError({
        status: body.status,
        type: body.type,
        title: body.title,
        detail: body.detail,
        fieldErrors: body.errors ?? [],
        requestId: body.request_id ?? requestId,
        retryAfter,
      });
    }
    return new ApiError({
      status: response.status,
      title: response.statusText,
      requestId,
      retryAfter,
    });
  }
  return new ApiError({ status: 0, type: 'unknown', detail: String(error) });
}

export interface DescribeOptions {
  /** What the request was about, for "This task was changed ..." ('task', 'project', ...). */
  thing?: string;
}

function capitalized(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Plain words for an error, fit to show a person. */
export function describeError(error: unknown, options: DescribeOptions = {}): string {
  const err = toApiError(error);
  const thing = options.thing ?? 'item';
  const detail = err.detail ? ` (${err.detail})` : '';
  switch (err.status) {
    case 0:
      return 'Trellis could not be reached. Check your connection and try again.';
    case 400:
      if (/cursor/i.test(err.detail))
        return 'The list changed since this page was loaded. Start again from the first page.';
      return `The request was not understood${detail}. Reload the page and try again.`;
    case 401:
      return 'Your session has ended. Sign in again to continue.';
    case 403:
      return `You don't have permission to do this${detail}. Ask an admin of this organization.`;
    case 404:
      return `This ${thing} does not exist, or you no longer have access to it.`;
    case 409:
      if (err.type === 'already-exists')
        return `That is already taken${detail}. Choose another value.`;
      return `This can't be done right now${detail}.`;
    case 412:
      return `This ${thing} was changed by someone else — the latest version has been loaded; try again.`;
    case 413:
      return 'That is too much text to save at once.';
    case 422: {
      if (err.fieldErrors.length === 0) return `Please check what you entered${detail}.`;
      const fields = err.fieldErrors
        .map((f) => `${f.pointer.replace(/^\//, '').replace(/_/g, ' ') || 'request'}: ${f.detail}`)
        .join('; ');
      return `Please check what you entered — ${fields}.`;
    }
    case 428:
      return `${capitalized(thing)} could not be saved safely. Reload the page and try again.`;
    case 429:
      return `Too many requests right now. Wait ${err.retryAfter ?? 'a few'} seconds and try again.`;
    default:
      if (err.status >= 500) {
        const id = err.requestId ? ` (request id ${err.requestId})` : '';
        return `Trellis had a problem and could not finish this${id}. Try again in a moment.`;
      }
      return `Something went wrong${detail}.`;
  }
}

/** The board's message for a move that lost a race (412). */
export const kTaskConflictMessage =
  'This task was changed by someone else — the board has been refreshed; try again.';
