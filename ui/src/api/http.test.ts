import { describe, expect, it, vi } from 'vitest';
import { createHttp, type AuthHooks } from './http';
import { ApiError } from './errors';
import { fakeServer, problem, type FakeAnswer } from '../test/fakeServer';

function setup(
  handler: (call: number, method: string) => FakeAnswer,
  auth: Partial<AuthHooks> = {},
) {
  const server = fakeServer((config, call) => handler(call, (config.method ?? '').toUpperCase()));
  let token = 'token-1';
  const hooks: AuthHooks = {
    getAccessToken: () => token,
    refresh: vi.fn(async () => {
      token = 'token-2';
      return true;
    }),
    signIn: vi.fn(),
    ...auth,
  };
  const sleep = vi.fn(async (_ms: number) => undefined);
  let n = 0;
  const http = createHttp({
    auth: hooks,
    adapter: server.adapter,
    sleep,
    newRequestId: () => `rid-${++n}`,
  });
  return { http, server, hooks, sleep };
}

const ok: FakeAnswer = { status: 200, data: { ok: true } };

describe('request headers', () => {
  it('sends the bearer token and a fresh X-Request-Id on every request', async () => {
    const { http, server } = setup(() => ok);
    await http.get('/api/v1/me');
    await http.get('/api/v1/orgs');
    expect(server.header(0, 'Authorization')).toBe('Bearer token-1');
    expect(server.header(0, 'X-Request-Id')).toBe('rid-1');
    expect(server.header(1, 'X-Request-Id')).toBe('rid-2');
  });

  it('sends no Authorization header when signed out', async () => {
    const { http, server } = setup(() => ok, { getAccessToken: () => null });
    await http.get('/api/v1/me');
    expect(server.header(0, 'Authorization')).toBeUndefined();
  });

  it('echoes the latest Trellis-Consistency token', async () => {
    const { http, server } = setup((call) =>
      call === 1 ? { status: 201, data: {}, headers: { 'trellis-consistency': '00ab' } } : ok,
    );
    await http.post('/api/v1/orgs', {});
    await http.get('/api/v1/orgs');
    expect(server.header(0, 'Trellis-Consistency')).toBeUndefined();
    expect(server.header(1, 'Trellis-Consistency')).toBe('00ab');
  });

  it('serializes array query parameters by repeating them', async () => {
    const { http, server } = setup(() => ok);
    await http.get('/x', { params: { status: ['todo', 'done'] } });
    const uri = http.getUri(server.calls[0]);
    expect(uri).toBe('/x?status=todo&status=done');
  });
});

describe('401: one refresh and one retry', () => {
  it('refreshes once and retries with the new token', async () => {
    const { http, server, hooks } = setup((call) =>
      call === 1 ? problem(401, 'unauthenticated', 'expired') : ok,
    );
    const response = await http.get('/api/v1/me');
    expect(response.data).toEqual({ ok: true });
    expect(hooks.refresh).toHaveBeenCalledTimes(1);
    expect(server.calls).toHaveLength(2);
    expect(server.header(1, 'Authorization')).toBe('Bearer token-2');
    expect(hooks.signIn).not.toHaveBeenCalled();
  });

  it('does not loop: a second 401 sends the person to sign-in', async () => {
    const { http, server, hooks } = setup(() => problem(401, 'unauthenticated', 'bad token'));
    const error = await http.get('/api/v1/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect(server.calls).toHaveLength(2);
    expect(hooks.refresh).toHaveBeenCalledTimes(1);
    expect(hooks.signIn).toHaveBeenCalledTimes(1);
  });

  it('goes to sign-in without retrying when the refresh fails', async () => {
    const { http, server, hooks } = setup(() => problem(401, 'unauthenticated', 'x'), {
      refresh: vi.fn(async () => false),
    });
    await expect(http.get('/api/v1/me')).rejects.toBeInstanceOf(ApiError);
    expect(server.calls).toHaveLength(1);
    expect(hooks.signIn).toHaveBeenCalledTimes(1);
  });

  it('shares one refresh between concurrent 401s', async () => {
    let refreshed = false;
    const refresh = vi.fn(async () => {
      await new Promise((r) => setTimeout(r, 10));
      refreshed = true;
      return true;
    });
    const server = fakeServer(() => (refreshed ? ok : problem(401, 'unauthenticated', 'expired')));
    const http = createHttp({
      auth: { getAccessToken: () => 't', refresh, signIn: vi.fn() },
      adapter: server.adapter,
    });
    await Promise.all([http.get('/a'), http.get('/b'), http.get('/c')]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(server.calls).toHaveLength(6);
  });
});

describe('Retry-After on 503 and 429', () => {
  it('retries an idempotent GET once after Retry-After seconds', async () => {
    const { http, server, sleep } = setup((call) =>
      call === 1 ? { ...problem(503, 'unavailable', 'busy'), headers: { 'retry-after': '3' } } : ok,
    );
    await http.get('/api/v1/orgs');
    expect(server.calls).toHaveLength(2);
    expect(sleep).toHaveBeenCalledWith(3000);
  });

  it('caps the wait at 10 seconds', async () => {
    const { http, sleep } = setup((call) =>
      call === 1 ? { ...problem(503, 'unavailable', 'x'), headers: { 'retry-after': '120' } } : ok,
    );
    await http.get('/x');
    expect(sleep).toHaveBeenCalledWith(10_000);
  });

  it('retries a 429 on DELETE', async () => {
    const { http, server } = setup((call) =>
      call === 1
        ? { ...problem(429, 'rate-limited', 'slow'), headers: { 'retry-after': '1' } }
        : ok,
    );
    await http.delete('/x');
    expect(server.calls).toHaveLength(2);
  });

  it('retries only once', async () => {
    const { http, server } = setup(() => ({
      ...problem(503, 'unavailable', 'busy'),
      headers: { 'retry-after': '1' },
    }));
    const error = (await http.get('/x').catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(503);
    expect(error.retryAfter).toBe(1);
    expect(server.calls).toHaveLength(2);
  });

  it('does not retry a POST without an Idempotency-Key, nor a PATCH', async () => {
    const { http, server, sleep } = setup(() => ({
      ...problem(503, 'unavailable', 'busy'),
      headers: { 'retry-after': '1' },
    }));
    await expect(http.post('/x', {})).rejects.toMatchObject({ status: 503 });
    await expect(http.patch('/x', {})).rejects.toMatchObject({ status: 503 });
    expect(server.calls).toHaveLength(2);
    expect(sleep).not.toHaveBeenCalled();
  });

  it('retries a POST that carries an Idempotency-Key, with the same key', async () => {
    const { http, server } = setup((call) =>
      call === 1 ? { ...problem(503, 'unavailable', 'x'), headers: { 'retry-after': '1' } } : ok,
    );
    await http.post('/x', {}, { headers: { 'Idempotency-Key': 'k-1' } });
    expect(server.calls).toHaveLength(2);
    expect(server.header(0, 'Idempotency-Key')).toBe('k-1');
    expect(server.header(1, 'Idempotency-Key')).toBe('k-1');
    expect(server.header(1, 'X-Request-Id')).not.toBe(server.header(0, 'X-Request-Id'));
  });

  it('does not retry other errors', async () => {
    const { http, server } = setup(() => problem(500, 'internal', 'boom'));
    await expect(http.get('/x')).rejects.toMatchObject({ status: 500 });
    expect(server.calls).toHaveLength(1);
  });
});

describe('problem+json to ApiError', () => {
  it('carries the type, detail, request id and field errors', async () => {
    const { http } = setup(() =>
      problem(422, 'validation', 'invalid body', [
        { pointer: '/title', detail: 'must not be blank' },
        { pointer: '/due_date', detail: 'must be a date' },
      ]),
    );
    const error = (await http.post('/x', {}).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.type).toBe('validation');
    expect(error.detail).toBe('invalid body');
    expect(error.requestId).toBe('req-1');
    expect(error.fieldError('/title')).toBe('must not be blank');
    expect(error.fieldError('/due_date')).toBe('must be a date');
    expect(error.fieldError('/name')).toBeUndefined();
  });

  it('makes an ApiError of a non-problem error answer too', async () => {
    const { http } = setup(() => ({ status: 502, data: '<html>bad gateway</html>' }));
    const error = (await http.get('/x').catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(502);
    expect(error.requestId).toBe('rid-1');
  });
});
