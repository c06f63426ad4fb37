// Tests' HTTP: an axios adapter that answers from a handler (no network) and records every
// request it saw, settling like axios' own adapters (non-2xx rejects with an AxiosError).
import {
  AxiosError,
  AxiosHeaders,
  type AxiosAdapter,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';

export interface FakeAnswer {
  status: number;
  data?: unknown;
  headers?: Record<string, string>;
}

export interface FakeServer {
  adapter: AxiosAdapter;
  calls: InternalAxiosRequestConfig[];
  header(call: number, name: string): string | undefined;
}

export function fakeServer(
  handler: (config: InternalAxiosRequestConfig, call: number) => FakeAnswer | Promise<FakeAnswer>,
): FakeServer {
  const calls: InternalAxiosRequestConfig[] = [];
  const adapter: AxiosAdapter = async (config) => {
    calls.push(config);
    const answer = await handler(config, calls.length);
    const response: AxiosResponse = {
      data: answer.data ?? '',
      status: answer.status,
      statusText: String(answer.status),
      headers: new AxiosHeaders(answer.headers ?? {}),
      config,
      request: {},
    };
    const ok = config.validateStatus ? config.validateStatus(answer.status) : answer.status < 300;
    if (ok) return response;
    throw new AxiosError(
      `Request failed with status code ${answer.status}`,
      answer.status >= 500 ? AxiosError.ERR_BAD_RESPONSE : AxiosError.ERR_BAD_REQUEST,
      config,
      {},
      response,
    );
  };
  return {
    adapter,
    calls,
    header(call, name) {
      const value = AxiosHeaders.from(calls[call]?.headers).get(name);
      return value === undefined || value === null ? undefined : String(value);
    },
  };
}

export function problem(
  status: number,
  type: string,
  detail: string,
  errors?: { pointer: string; detail: string }[],
): FakeAnswer {
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    data: {
      type: `https://trellis.dev/problems/${type}`,
      title: 'Problem',
      status,
      detail,
      request_id: 'req-1',
      ...(errors ? { errors } : {}),
    },
  };
}
