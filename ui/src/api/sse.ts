// Server-Sent Events over fetch: the org's live stream needs the bearer header, which
// EventSource cannot send. `SseParser` turns text chunks (split anywhere) into messages per the
// WHATWG rules (multi-line data, ids, comments, CR/LF/CRLF); `connectEventStream` keeps a
// stream open, resuming with Last-Event-ID and reconnecting with backoff until closed.
//
//   const stream = connectEventStream({ url, getAccessToken, refresh, onMessage: (m) => ... });
//   stream.close();
export interface SseMessage {
  /** The event type (`event:`), 'message' when absent. */
  event: string;
  data: string;
  /** The last event id seen so far ('' if none). */
  id: string;
}

export class SseParser {
  private buffer = '';
  private pendingCR = false;
  private data: string[] = [];
  private eventType = '';
  private lastEventId = '';
  /** The `retry:` field's value in milliseconds, when the server sent one. */
  retryMs: number | undefined;
  private readonly onMessage: (message: SseMessage) => void;
  private readonly onComment: ((text: string) => void) | undefined;

  constructor(onMessage: (message: SseMessage) => void, onComment?: (text: string) => void) {
    this.onMessage = onMessage;
    this.onComment = onComment;
  }

  get id(): string {
    return this.lastEventId;
  }

  /** Feeds decoded text; complete lines are processed, a partial one is kept. */
  push(chunk: string): void {
    if (chunk === '') return;
    let text = chunk;
    // A CR at the end of the previous chunk already ended a line; skip its LF.
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i += 1) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      this.line(this.buffer.slice(start, i));
      if (c === '\r') {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === '\n') i += 1;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) {
      this.onComment?.(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
  }

  private dispatch(): void {
    if (this.data.length === 0) {
      this.eventType = '';
      return;
    }
    const message: SseMessage = {
      event: this.eventType || 'message',
      data: this.data.join('\n'),
      id: this.lastEventId,
    };
    this.data = [];
    this.eventType = '';
    this.onMessage(message);
  }
}

export type StreamState = 'connecting' | 'open' | 'closed';

export interface EventStreamOptions {
  url: string;
  getAccessToken(): string | null | Promise<string | null>;
  /** A fresh token after a 401; false stops the stream. */
  refresh(): Promise<boolean>;
  onMessage(message: SseMessage): void;
  onState?(state: StreamState): void;
  /** The id to resume after (Last-Event-ID on the first request). */
  lastEventId?: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Reconnect delays: base * 2^attempt, at most max (ms). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export interface EventStream {
  close(): void;
  /** The last event id received. */
  readonly lastEventId: string;
}

export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
}

export function connectEventStream(options: EventStreamOptions): EventStream {
  const doFetch = options.fetch ?? fetch.bind(globalThis);
  const baseMs = options.backoffBaseMs ?? 1000;
  const maxMs = options.backoffMaxMs ?? 30_000;
  const controller = new AbortController();
  let closed = false;
  let lastEventId = options.lastEventId ?? '';
  const sleep =
    options.sleep ??
    ((ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        controller.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      }));

  async function run(): Promise<void> {
    let attempt = 0;
    let retryBaseMs = baseMs;
    while (!closed) {
      options.onState?.('connecting');
      let gotData = false;
      try {
        const headers: Record<string, string> = { Accept: 'text/event-stream' };
        const token = await options.getAccessToken();
        if (token) headers.Authorization = `Bearer ${token}`;
        if (lastEventId) headers['Last-Event-ID'] = lastEventId;
        const response = await doFetch(options.url, {
          headers,
          signal: controller.signal,
          cache: 'no-store',
        });
        if (response.status === 401) {
          if (!(await options.refresh())) break;
          continue;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        options.onState?.('open');
        const parser = new SseParser((message) => {
          gotData = true;
          lastEventId = message.id;
          options.onMessage(message);
        });
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.push(decoder.decode(value, { stream: true }));
          if (parser.id) lastEventId = parser.id;
        }
        if (parser.retryMs !== undefined) retryBaseMs = parser.retryMs;
      } catch {
        if (closed) break;
      }
      if (closed) break;
      attempt = gotData ? 0 : attempt + 1;
      await sleep(backoffDelay(attempt, retryBaseMs, maxMs));
    }
    options.onState?.('closed');
  }
  void run();

  return {
    close() {
      closed = true;
      controller.abort();
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}
