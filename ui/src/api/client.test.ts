import { describe, expect, it } from 'vitest';
import { allPages, createApi } from './client';
import { createHttp } from './http';
import { fakeServer } from '../test/fakeServer';

const task = { id: 't1', version: 3, title: 'x' };

function setup(apiBase = '/api/v1') {
  const server = fakeServer((config) => {
    if (config.method === 'get' && config.url?.includes('/tasks/'))
      return { status: 200, data: task, headers: { etag: '"3"' } };
    if (config.method === 'post') return { status: 201, data: { ...task, version: 1 } };
    if (config.method === 'patch') return { status: 200, data: { ...task, version: 4 } };
    return { status: 200, data: { items: [], next_cursor: null } };
  });
  const http = createHttp({
    auth: { getAccessToken: () => 't', refresh: async () => false, signIn: () => undefined },
    adapter: server.adapter,
  });
  return { api: createApi(http, apiBase), server, http };
}

describe('the typed client', () => {
  it('fills path parameters and returns the ETag with a resource', async () => {
    const { api, server } = setup();
    const { data, etag } = await api.getTask('org 1', 't1');
    expect(server.calls[0].url).toBe('/api/v1/orgs/org%201/tasks/t1');
    expect(data.id).toBe('t1');
    expect(etag).toBe('"3"');
  });

  it('sends If-Match on updates and falls back to the version for the ETag', async () => {
    const { api, server } = setup();
    const { etag } = await api.updateTask('o', 't1', { status: 'done' }, '"3"');
    expect(server.header(0, 'If-Match')).toBe('"3"');
    expect(server.calls[0].method).toBe('patch');
    expect(JSON.parse(server.calls[0].data as string)).toEqual({ status: 'done' });
    expect(etag).toBe('"4"');
  });

  it('sends a fresh Idempotency-Key on creates, but not for API keys', async () => {
    const { api, server } = setup();
    await api.createTask('o', 'p', { title: 'a' });
    await api.createTask('o', 'p', { title: 'b' });
    await api.createApiKey('o', { name: 'ci', role: 'member' });
    const k1 = server.header(0, 'Idempotency-Key');
    const k2 = server.header(1, 'Idempotency-Key');
    expect(k1).toMatch(/^[0-9a-f-]{36}$/);
    expect(k2).toMatch(/^[0-9a-f-]{36}$/);
    expect(k1).not.toBe(k2);
    expect(server.header(2, 'Idempotency-Key')).toBeUndefined();
  });

  it('passes query parameters and uses the configured API base', async () => {
    const { api, server, http } = setup('/v1-proxy/');
    await api.listTasks('o', 'p', { status: ['todo', 'done'], limit: 200 });
    expect(http.getUri(server.calls[0])).toBe(
      '/v1-proxy/orgs/o/projects/p/tasks?status=todo&status=done&limit=200',
    );
    expect(api.eventsUrl('o')).toBe('/v1-proxy/orgs/o/events');
  });

  it('follows next_cursor through every page', async () => {
    const pages: Record<string, { items: number[]; next_cursor: string | null }> = {
      first: { items: [1, 2], next_cursor: 'c2' },
      c2: { items: [3], next_cursor: 'c3' },
      c3: { items: [4], next_cursor: null },
    };
    const seen: (string | undefined)[] = [];
    const items = await allPages(async (cursor) => {
      seen.push(cursor);
      return pages[cursor ?? 'first'];
    });
    expect(items).toEqual([1, 2, 3, 4]);
    expect(seen).toEqual([undefined, 'c2', 'c3']);
  });
});
