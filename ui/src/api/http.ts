// The axios instance every API call goes through, with its interceptors:
//
// - `Authorization: Bearer <access token>` from the signed-in user;
// - `X-Request-Id` (a fresh UUID) on every request, quoted in error messages;
// - `Trellis-Consistency`: the latest token a write answered with is sent back (read your
//   own writes, docs/api-conventions.md);
// - on 401: one token refresh (shared by concurrent calls) and one retry; a second 401, or a
//   failed refresh, sends the person to sign-in;
// - on 503 or 429, for idempotent requests only (GET, HEAD, PUT, DELETE, OPTIONS, and POST
//   with an Idempotency-Key): one retry after Retry-After seconds (capped);
// - every failure is rejected as an `ApiError` (problem+json parsed).
//
//   const http = createHttp({ auth: { getAccessToken, refresh, signIn } });
//   await http.get('/api/v1/me');
import axios, {
  AxiosHeaders,
  type AxiosAdapter,
  type AxiosInstance,
  type InternalAxiosRequestConfig,
} from 'axios';
import { parseRetryAfter, toApiError } from './errors';

declare module 'axios' {
  interface AxiosRequestConfig {
    /** Set once a 401 led to a refresh and this retry. */
    trellisAuthRetried?: boolean;
    /** Set once a 503/429 led to this retry. */
    trellisRetryAfterDone?: boolean;
  }
}

export interface AuthHooks {
  /** The current access token, or null when signed out. */
  getAccessToken(): string | null | Promise<string | null>;
  /** Try to get a fresh token (refresh token); true when a new token is available. */
  refresh(): Promise<boolean>;
  /** Start the sign-in (a redirect to the issuer). */
  signIn(): void;
}

export interface HttpOptions {
  auth: AuthHooks;
  baseURL?: string;
  /** The most Retry-After is honoured for, in seconds. */
  maxRetryAfterS?: number;
  /** The wait used for Retry-After (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
  /** Replaces axios' HTTP adapter (tests). */
  adapter?: AxiosAdapter;
  newRequestId?: () => string;
}

const kIdempotentMethods = new Set(['get', 'head', 'put', 'delete', 'options']);

export function isIdempotent(config: InternalAxiosRequestConfig): boolean {
  const method = (config.method ?? 'get').toLowerCase();
  if (kIdempotentMethods.has(method)) return true;
  return method === 'post' && Boolean(AxiosHeaders.from(config.headers).get('Idempotency-Key'));
}

export function createHttp(options: HttpOptions): AxiosInstance {
  const maxRetryAfterS = options.maxRetryAfterS ?? 10;
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const newRequestId = options.newRequestId ?? (() => crypto.randomUUID());
  const http = axios.create({
    baseURL: options.baseURL ?? '',
    adapter: options.adapter,
    headers: { Accept: 'application/json' },
    // status=todo&status=done rather than status[]=...
    paramsSerializer: { indexes: null },
  });

  let consistency: string | null = null;
  let refreshing: Promise<boolean> | null = null;
  const refreshOnce = () => {
    refreshing ??= options.auth
      .refresh()
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };

  http.interceptors.request.use(async (config) => {
    const token = await options.auth.getAccessToken();
    if (token) config.headers.set('Authorization', `Bearer ${token}`);
    config.headers.set('X-Request-Id', newRequestId());
    if (consistency) config.headers.set('Trellis-Consistency', consistency);
    return config;
  });

  http.interceptors.response.use(
    (response) => {
      const token = response.headers['trellis-consistency'] as string | undefined;
      if (token) consistency = token;
      return response;
    },
    async (error: unknown) => {
      if (!axios.isAxiosError(error) || !error.config || !error.response) {
        throw toApiError(error);
      }
      const config = error.config;
      const status = error.response.status;

      if (status === 401) {
        if (!config.trellisAuthRetried && (await refreshOnce())) {
          config.trellisAuthRetried = true;
          return http.request(config);
        }
        options.auth.signIn();
        throw toApiError(error);
      }

      if (
        (status === 503 || status === 429) &&
        !config.trellisRetryAfterDone &&
        isIdempotent(config)
      ) {
        const seconds = parseRetryAfter(error.response.headers['retry-after']) ?? 1;
        config.trellisRetryAfterDone = true;
        await sleep(Math.min(seconds, maxRetryAfterS) * 1000);
        return http.request(config);
      }
      throw toApiError(error);
    },
  );
  return http;
}
