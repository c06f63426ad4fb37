import { describe, expect, it, vi } from 'vitest';
import { backoffDelay, connectEventStream, SseParser, type SseMessage } from './sse';

function parseAll(chunks: string[]) {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const parser = new SseParser(
    (m) => messages.push(m),
    (c) => comments.push(c),
  );
  for (const chunk of chunks) parser.push(chunk);
  return { messages, comments, parser };
}

const kStream =
  ': heartbeat\n' +
  'id: 7\nevent: work.task.created\ndata: {"id":"a","type":"work.task.created"}\n\n' +
  'id: 8\r\nevent: work.task.updated\r\ndata: line one\r\ndata: line two\r\n\r\n' +
  ': heartbeat\r' +
  'data: no id or type\r\r' +
  'id: 9\nevent: reset\ndata: {"reason":"missed events; reload"}\n\n';

const kExpected: SseMessage[] = [
  { id: '7', event: 'work.task.created', data: '{"id":"a","type":"work.task.created"}' },
  { id: '8', event: 'work.task.updated', data: 'line one\nline two' },
  { id: '8', event: 'message', data: 'no id or type' },
  { id: '9', event: 'reset', data: '{"reason":"missed events; reload"}' },
];

describe('SseParser', () => {
  it('parses events, multi-line data, ids and comments', () => {
    const { messages, comments } = parseAll([kStream]);
    expect(messages).toEqual(kExpected);
    expect(comments).toEqual(['heartbeat', 'heartbeat']);
  });

  it('gives the same events however the text is split into chunks', () => {
    for (let i = 0; i <= kStream.length; i += 1) {
      for (const j of [i, i + 1, i + 3]) {
        const chunks = [kStream.slice(0, i), kStream.slice(i, j), kStream.slice(j)];
        expect(parseAll(chunks).messages).toEqual(kExpected);
      }
    }
  });

  it('gives the same events one character at a time', () => {
    expect(parseAll([...kStream]).messages).toEqual(kExpected);
  });

  it('treats a CRLF split across chunks as one line end', () => {
    const { messages } = parseAll(['data: a\r', '\n', 'data: b\r', '\n\r', '\n']);
    expect(messages).toEqual([{ id: '', event: 'message', data: 'a\nb' }]);
  });

  it('does not dispatch an event without data, and keeps the last id', () => {
    const { messages, parser } = parseAll(['id: 3\nevent: x\n\n', 'data: y\n\n']);
    expect(messages).toEqual([{ id: '3', event: 'message', data: 'y' }]);
    expect(parser.id).toBe('3');
  });

  it('keeps an incomplete event until its blank line arrives', () => {
    const { messages } = parseAll(['id: 1\ndata: partial']);
    expect(messages).toEqual([]);
  });

  it('reads field values without the one leading space, and fields without a colon', () => {
    const { messages } = parseAll(['data:  two spaces\ndata\n\n']);
    expect(messages[0].data).toBe(' two spaces\n');
  });

  it('reads retry', () => {
    const { parser } = parseAll(['retry: 2500\n\n']);
    expect(parser.retryMs).toBe(2500);
  });
});

// A fetch Response whose body yields the given chunks, then ends.
function streamResponse(chunks: string[], status = 200): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
  return new Response(body, { status, headers: { 'content-type': 'text/event-stream' } });
}

describe('connectEventStream', () => {
  it('sends the bearer token, and Last-Event-ID when it reconnects', async () => {
    const requests: Record<string, string>[] = [];
    const messages: SseMessage[] = [];
    let stream: ReturnType<typeof connectEventStream> | null = null;
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      requests.push({ ...(init?.headers as Record<string, string>) });
      if (requests.length === 1)
        return streamResponse(['id: 41\ndata: {"n":1}\n\n', 'id: 42\nda', 'ta: {"n":2}\n\n']);
      if (requests.length === 2) return streamResponse(['id: 43\ndata: {"n":3}\n\n']);
      stream?.close();
      return streamResponse([]);
    });
    await new Promise<void>((resolve) => {
      stream = connectEventStream({
        url: '/api/v1/orgs/o/events',
        getAccessToken: () => 'tok',
        refresh: async () => true,
        onMessage: (m) => messages.push(m),
        onState: (s) => s === 'closed' && resolve(),
        fetch: fetchMock as unknown as typeof fetch,
        sleep: async () => undefined,
      });
    });
    expect(messages.map((m) => m.data)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(requests[0].Authorization).toBe('Bearer tok');
    expect(requests[0]['Last-Event-ID']).toBeUndefined();
    expect(requests[1]['Last-Event-ID']).toBe('42');
    expect(requests[2]['Last-Event-ID']).toBe('43');
  });

  it('refreshes the token after a 401 and reconnects; stops when the refresh fails', async () => {
    let token = 'old';
    const seen: string[] = [];
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      seen.push((init?.headers as Record<string, string>).Authorization);
      return new Response('', { status: 401 });
    });
    const refresh = vi
      .fn<() => Promise<boolean>>()
      .mockImplementationOnce(async () => {
        token = 'new';
        return true;
      })
      .mockImplementationOnce(async () => false);
    await new Promise<void>((resolve) => {
      connectEventStream({
        url: '/e',
        getAccessToken: () => token,
        refresh,
        onMessage: () => undefined,
        onState: (s) => s === 'closed' && resolve(),
        fetch: fetchMock as unknown as typeof fetch,
        sleep: async () => undefined,
      });
    });
    expect(seen).toEqual(['Bearer old', 'Bearer new']);
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it('backs off longer after each failed attempt, up to the maximum', async () => {
    const delays: number[] = [];
    let stream: ReturnType<typeof connectEventStream> | null = null;
    const fetchMock = vi.fn(async () => {
      if (delays.length >= 5) stream?.close();
      return new Response('', { status: 503 });
    });
    await new Promise<void>((resolve) => {
      stream = connectEventStream({
        url: '/e',
        getAccessToken: () => 't',
        refresh: async () => true,
        onMessage: () => undefined,
        onState: (s) => s === 'closed' && resolve(),
        fetch: fetchMock as unknown as typeof fetch,
        sleep: async (ms) => {
          delays.push(ms);
        },
        backoffBaseMs: 100,
        backoffMaxMs: 1000,
      });
    });
    expect(delays).toEqual([200, 400, 800, 1000, 1000]);
    expect(backoffDelay(0, 100, 1000)).toBe(100);
  });

  it('close() aborts the open request', async () => {
    let signal: AbortSignal | undefined;
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      signal = init?.signal ?? undefined;
      return new Promise<Response>(() => undefined);
    });
    const stream = connectEventStream({
      url: '/e',
      getAccessToken: () => 't',
      refresh: async () => true,
      onMessage: () => undefined,
      fetch: fetchMock as unknown as typeof fetch,
    });
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalled());
    stream.close();
    expect(signal?.aborted).toBe(true);
  });
});
