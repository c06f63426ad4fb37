// The typed API client: one function per operation of api/openapi.yaml, each with its path
// parameters, query, body and answer typed from `schema.d.ts` (openapi-typescript). Single
// resources come back with their ETag (`Resource<T>`); updates and deletes take it back as
// `If-Match`; creates send a fresh Idempotency-Key (reused by the interceptor's retries).
//
//   const api = createApi(http, '/api/v1');
//   const { data: task, etag } = await api.getTask(org, id);
//   await api.updateTask(org, id, { status: 'done' }, etag);
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type Me = Schemas['Me'];
export type Org = Schemas['Org'];
export type Member = Schemas['Member'];
export type Role = Schemas['Role'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type Project = Schemas['Project'];
export type Task = Schemas['Task'];
export type TaskStatus = Schemas['TaskStatus'];
export type Comment = Schemas['Comment'];
export type AuditEvent = Schemas['AuditEvent'];
export type LiveEvent = Schemas['LiveEvent'];

type Method = 'get' | 'post' | 'patch' | 'delete';
type Path = keyof paths;
type Operation<P extends Path, M extends Method> = NonNullable<paths[P][M]>;

type PathParams<O> = O extends { parameters: { path: infer X } } ? X : never;
type QueryParams<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type JsonBody<O> = O extends { requestBody: { content: { 'application/json': infer B } } }
  ? B
  : O extends { requestBody?: { content: { 'application/json': infer B } } }
    ? B
    : never;
type Success<O> = O extends { responses: { 200: { content: { 'application/json': infer R } } } }
  ? R
  : O extends { responses: { 201: { content: { 'application/json': infer R } } } }
    ? R
    : void;

/** A single resource and its entity tag (`"<version>"`). */
export interface Resource<T> {
  data: T;
  etag: string;
}
/** One page of a list. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type Query<P extends Path, M extends Method> = QueryParams<Operation<P, M>>;
export type Body<P extends Path, M extends Method> = JsonBody<Operation<P, M>>;

interface CallOptions<P extends Path, M extends Method> {
  path?: PathParams<Operation<P, M>>;
  query?: QueryParams<Operation<P, M>>;
  body?: JsonBody<Operation<P, M>>;
  headers?: Record<string, string>;
}

function fillPath(template: string, params: Record<string, string> | undefined): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(value);
  });
}

function etagOf(response: AxiosResponse, data: unknown): string {
  const header = response.headers['etag'] as string | undefined;
  if (header) return header;
  const version = (data as { version?: number } | null)?.version;
  return version !== undefined ? `"${version}"` : '*';
}

/** The ETag of a list item: its version in quotes (lists carry no ETag header). */
export function etagOfVersion(item: { version: number }): string {
  return `"${item.version}"`;
}

export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

export function createApi(http: AxiosInstance, apiBase = '/api/v1') {
  const base = apiBase.replace(/\/$/, '');

  async function call<P extends Path, M extends Method>(
    template: P,
    method: M,
    options: CallOptions<P, M> = {},
  ): Promise<AxiosResponse<Success<Operation<P, M>>>> {
    const url = fillPath(template, options.path as Record<string, string> | undefined).replace(
      /^\/api\/v1/,
      base,
    );
    return http.request<Success<Operation<P, M>>>({
      url,
      method,
      params: options.query,
      data: options.body,
      headers: options.headers,
    });
  }
  async function resource<P extends Path, M extends Method>(
    template: P,
    method: M,
    options: CallOptions<P, M> = {},
  ): Promise<Resource<Success<Operation<P, M>>>> {
    const response = await call(template, method, options);
    return { data: response.data, etag: etagOf(response, response.data) };
  }
  const idem = () => ({ 'Idempotency-Key': newIdempotencyKey() });
  const ifMatch = (etag: string) => ({ 'If-Match': etag });

  return {
    // ---------------------------------------------------------------- identity ----
    getMe: async () => (await call('/api/v1/me', 'get')).data,
    listOrgs: async (query?: Query<'/api/v1/orgs', 'get'>) =>
      (await call('/api/v1/orgs', 'get', { query })).data,
    createOrg: (body: Body<'/api/v1/orgs', 'post'>) =>
      resource('/api/v1/orgs', 'post', { body, headers: idem() }),
    getOrg: (org: string) => resource('/api/v1/orgs/{org}', 'get', { path: { org } }),
    listMembers: async (org: string, query?: Query<'/api/v1/orgs/{org}/members', 'get'>) =>
      (await call('/api/v1/orgs/{org}/members', 'get', { path: { org }, query })).data,
    inviteMember: (org: string, body: Body<'/api/v1/orgs/{org}/members', 'post'>) =>
      resource('/api/v1/orgs/{org}/members', 'post', { path: { org }, body, headers: idem() }),
    changeMemberRole: (org: string, member: string, role: Role, etag: string) =>
      resource('/api/v1/orgs/{org}/members/{member}', 'patch', {
        path: { org, member },
        body: { role },
        headers: ifMatch(etag),
      }),
    removeMember: async (org: string, member: string, etag: string) => {
      await call('/api/v1/orgs/{org}/members/{member}', 'delete', {
        path: { org, member },
        headers: ifMatch(etag),
      });
    },
    listApiKeys: async (org: string, query?: Query<'/api/v1/orgs/{org}/api-keys', 'get'>) =>
      (await call('/api/v1/orgs/{org}/api-keys', 'get', { path: { org }, query })).data,
    // The one create that refuses Idempotency-Key (the secret is not kept for a replay).
    createApiKey: (org: string, body: Body<'/api/v1/orgs/{org}/api-keys', 'post'>) =>
      resource('/api/v1/orgs/{org}/api-keys', 'post', { path: { org }, body }),
    revokeApiKey: async (org: string, key: string, etag: string) => {
      await call('/api/v1/orgs/{org}/api-keys/{key}', 'delete', {
        path: { org, key },
        headers: ifMatch(etag),
      });
    },

    // -------------------------------------------------------------------- work ----
    listProjects: async (org: string, query?: Query<'/api/v1/orgs/{org}/projects', 'get'>) =>
      (await call('/api/v1/orgs/{org}/projects', 'get', { path: { org }, query })).data,
    createProject: (org: string, body: Body<'/api/v1/orgs/{org}/projects', 'post'>) =>
      resource('/api/v1/orgs/{org}/projects', 'post', { path: { org }, body, headers: idem() }),
    getProject: (org: string, project: string) =>
      resource('/api/v1/orgs/{org}/projects/{project}', 'get', { path: { org, project } }),
    updateProject: (
      org: string,
      project: string,
      body: Body<'/api/v1/orgs/{org}/projects/{project}', 'patch'>,
      etag: string,
    ) =>
      resource('/api/v1/orgs/{org}/projects/{project}', 'patch', {
        path: { org, project },
        body,
        headers: ifMatch(etag),
      }),
    listTasks: async (
      org: string,
      project: string,
      query?: Query<'/api/v1/orgs/{org}/projects/{project}/tasks', 'get'>,
    ) =>
      (
        await call('/api/v1/orgs/{org}/projects/{project}/tasks', 'get', {
          path: { org, project },
          query,
        })
      ).data,
    createTask: (
      org: string,
      project: string,
      body: Body<'/api/v1/orgs/{org}/projects/{project}/tasks', 'post'>,
    ) =>
      resource('/api/v1/orgs/{org}/projects/{project}/tasks', 'post', {
        path: { org, project },
        body,
        headers: idem(),
      }),
    getTask: (org: string, task: string) =>
      resource('/api/v1/orgs/{org}/tasks/{task}', 'get', { path: { org, task } }),
    updateTask: (
      org: string,
      task: string,
      body: Body<'/api/v1/orgs/{org}/tasks/{task}', 'patch'>,
      etag: string,
    ) =>
      resource('/api/v1/orgs/{org}/tasks/{task}', 'patch', {
        path: { org, task },
        body,
        headers: ifMatch(etag),
      }),
    deleteTask: async (org: string, task: string, etag: string) => {
      await call('/api/v1/orgs/{org}/tasks/{task}', 'delete', {
        path: { org, task },
        headers: ifMatch(etag),
      });
    },
    listComments: async (
      org: string,
      task: string,
      query?: Query<'/api/v1/orgs/{org}/tasks/{task}/comments', 'get'>,
    ) =>
      (
        await call('/api/v1/orgs/{org}/tasks/{task}/comments', 'get', {
          path: { org, task },
          query,
        })
      ).data,
    createComment: (org: string, task: string, body: string) =>
      resource('/api/v1/orgs/{org}/tasks/{task}/comments', 'post', {
        path: { org, task },
        body: { body },
        headers: idem(),
      }),
    updateComment: (org: string, task: string, comment: string, body: string, etag: string) =>
      resource('/api/v1/orgs/{org}/tasks/{task}/comments/{comment}', 'patch', {
        path: { org, task, comment },
        body: { body },
        headers: ifMatch(etag),
      }),
    deleteComment: async (org: string, task: string, comment: string, etag: string) => {
      await call('/api/v1/orgs/{org}/tasks/{task}/comments/{comment}', 'delete', {
        path: { org, task, comment },
        headers: ifMatch(etag),
      });
    },

    // ------------------------------------------------------------------- audit ----
    listAuditEvents: async (org: string, query?: Query<'/api/v1/orgs/{org}/audit-events', 'get'>) =>
      (await call('/api/v1/orgs/{org}/audit-events', 'get', { path: { org }, query })).data,

    /** The URL of the org's live event stream (read with `connectEventStream`). */
    eventsUrl: (org: string) => `${base}/orgs/${encodeURIComponent(org)}/events`,
  };
}

export type Api = ReturnType<typeof createApi>;

/** Every item of a list, following next_cursor (bounded by maxPages). */
export async function allPages<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  maxPages = 20,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i += 1) {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return items;
}
