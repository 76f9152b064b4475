/**
 * A small Kubernetes API client over node:http(s), generic over the resource path (`/api/v1/namespaces`,
 * `/api/v1/namespaces/kube-system/services`, `/apis/networking.k8s.io/v1/networkpolicies`, …):
 *
 * - `get`: one object; 404 is a value (`{ found: false }`), any other non-2xx an `ApiError` carrying the status;
 * - `list`: the pages of a list, `limit`/`continue` as client-go's pager asks for them
 *   (https://github.com/kubernetes/client-go/blob/master/tools/pager/pager.go), started over when the continue token
 *   outlived etcd compaction (410), each page yielded as it arrives so a caller never holds more than one raw page;
 * - `watch`: a stream of decoded events with an inactivity timeout (a half-open connection — the peer vanished
 *   without FIN/RST — delivers nothing, forever, otherwise), TCP keepalive as client-go's dialer sets it.
 *
 * Every request gets fresh credentials from the connection (./credentials.ts: token file, exec plugin, client
 * certificate, proxy), so rotated service-account tokens are picked up. `metadataOnly` asks for
 * PartialObjectMetadata, as client-go's metadata client does
 * (https://github.com/kubernetes/client-go/blob/master/metadata/metadata.go): the apiserver then sends no spec/status.
 *
 * Expected answers are values or typed errors: `ApiError` (an HTTP status, or the Status of a failed request),
 * `RequestTimeoutError`, `WatchInactivityError`; an aborted request rejects with its signal's reason.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { z } from 'zod';
import { describeIssues } from '../zod/issues.ts';
import { linkedSignal } from './abort.ts';
import { http, https } from './node-http.ts';

/** The API server and how to authenticate to it (see `connectionOf` in ./kubeconfig.ts). */
export interface ApiConnection {
  /** The API server's URL; a path prefix (a proxy's) is kept. */
  server: string;
  /** Adds TLS material, proxy agent and credentials to one request's options; called for every request. */
  authorize(options: HttpsRequestOptions): Promise<void>;
}

/** The apiserver's `Status` of a failed request (https://kubernetes.io/docs/reference/using-api/api-concepts/). */
export interface ApiStatus {
  code: number | undefined;
  reason: string | undefined;
  message: string | undefined;
}

/** The API server answered with an error: `status` is the HTTP status (403 Forbidden, 410 Gone, …). */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  /** The Status `reason` (Forbidden, NotFound, Expired, …) when the body was a Status. */
  readonly reason: string | undefined;
  constructor(message: string, status: number, reason?: string | undefined, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.reason = reason;
  }
}

export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/** An open watch delivered no event or bookmark (nor, before that, a response) for the inactivity timeout. */
export class WatchInactivityError extends Error {
  override name = 'WatchInactivityError';
  constructor(ms: number) {
    super(`no event or bookmark for ${ms} ms`);
  }
}

/** `error` with `context` in front of its message; an ApiError keeps its status. */
export function withContext(error: unknown, context: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError)
    return new ApiError(`${context}: ${message}`, error.status, error.reason, { cause: error });
  return new Error(`${context}: ${message}`, { cause: error });
}

export interface RequestOptions {
  /** Ask for PartialObjectMetadata (lists: PartialObjectMetadataList): metadata only, no spec or status. */
  metadataOnly?: boolean | undefined;
  /** Aborts the request: the call rejects (an iteration throws) with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export interface Selectors {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
}

export interface GetOptions extends RequestOptions {
  /** The whole exchange, headers and body. Default 30 s. */
  timeoutMs?: number | undefined;
}

export type GetResult = { found: true; object: unknown } | { found: false };

export interface ListOptions extends RequestOptions, Selectors {
  /** `limit` of each page. Default 500, as client-go's pager. */
  pageSize?: number | undefined;
  /** Timeout of one page. Default 30 s. */
  pageTimeoutMs?: number | undefined;
}

export interface ListPage {
  items: unknown[];
  /** The list's resourceVersion: a watch from it misses nothing. */
  resourceVersion: string;
  /** The first page of a list — also of one started over after its continue token expired: drop earlier pages. */
  first: boolean;
}

export interface WatchOptions extends RequestOptions, Selectors {
  /** Where the watch starts; unset or '' → synthetic ADDED events for everything first. */
  resourceVersion?: string | undefined;
  /** The server ends the stream cleanly after this long. */
  timeoutSeconds?: number | undefined;
  /** Default true: a BOOKMARK about every minute, which also proves the connection alive. */
  allowWatchBookmarks?: boolean | undefined;
  /** No response, event or bookmark for this long → the stream throws a WatchInactivityError. Default 120 s. */
  inactivityTimeoutMs?: number | undefined;
}

export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: unknown }
  | { type: 'BOOKMARK'; resourceVersion: string }
  | { type: 'ERROR'; status: ApiStatus };

/** The events of one accepted watch, until the server ends it (the iteration completes) or it fails (throws). */
export interface WatchStream extends AsyncIterable<WatchEvent> {
  /** Releases the connection; done anyway when an iteration ends, breaks or throws. Idempotent. */
  close(): Promise<void>;
}

export interface ApiClient {
  get(path: string, options?: GetOptions): Promise<GetResult>;
  list(path: string, options?: ListOptions): AsyncGenerator<ListPage, void, undefined>;
  /** Resolves once the server accepted the watch (200); rejects with an ApiError otherwise (410: relist). */
  watch(path: string, options?: WatchOptions): Promise<WatchStream>;
}

const ACCEPT_JSON = 'application/json';
// Plain JSON is the listed fallback, for servers (and aggregated APIs) without the metadata conversion.
const ACCEPT_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';
const ACCEPT_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

/** Far above any one object (etcd refuses values over 1.5 MiB by default): a bound, not a limit anyone meets. */
const MAX_EVENT_CHARS = 32 * 1024 * 1024;
/** A continue token that expires again and again means the list cannot complete: give up after this many. */
const MAX_LIST_RESTARTS = 3;

const statusSchema = z.object({
  code: z.number().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});
const listSchema = z.object({
  metadata: z.object({ resourceVersion: z.string().min(1), continue: z.string().optional() }),
  items: z.array(z.unknown()).nullish(),
});
const eventSchema = z.object({
  type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']),
  object: z.unknown(),
});
const bookmarkSchema = z.object({ metadata: z.object({ resourceVersion: z.string().min(1) }) });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`unexpected response: not JSON: ${JSON.stringify(text.slice(0, 100))}`);
  }
}

function statusOf(value: unknown): ApiStatus {
  const parsed = statusSchema.safeParse(value);
  const s = parsed.success ? parsed.data : {};
  return { code: s.code, reason: s.reason, message: s.message };
}

/** A non-2xx answer: `HTTP 500: <the Status message>` (or the start of the body when it is no Status). */
function httpError(status: number, body: string): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const s = statusOf(parsed);
  const detail = s.message || body.slice(0, 200).trim();
  return new ApiError(`HTTP ${status}${detail ? `: ${detail}` : ''}`, status, s.reason);
}

function decodeEvent(line: string): WatchEvent {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new Error(`undecodable event: not JSON: ${JSON.stringify(line.slice(0, 100))}`);
  }
  const decoded = eventSchema.safeParse(json);
  if (!decoded.success) throw new Error(`undecodable event: ${describeIssues(decoded.error)}`);
  const { type, object } = decoded.data;
  if (type === 'ERROR') return { type, status: statusOf(object) };
  if (type === 'BOOKMARK') {
    const bookmark = bookmarkSchema.safeParse(object);
    if (!bookmark.success) throw new Error(`bad BOOKMARK: ${describeIssues(bookmark.error)}`);
    return { type, resourceVersion: bookmark.data.metadata.resourceVersion };
  }
  return { type, object };
}

interface Opened {
  req: ClientRequest;
  res: IncomingMessage;
}

/** Destroys the request (if still open) and waits for its socket to be released. */
async function release(req: ClientRequest): Promise<void> {
  if (req.closed) return;
  await new Promise<void>((resolve) => {
    req.once('close', () => resolve());
    req.destroy();
  });
}

async function readBody(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += chunk as string;
  return body;
}

export interface ApiClientOptions {
  /** Default 'dns-tuner'. */
  userAgent?: string | undefined;
}

export function createApiClient(connection: ApiConnection, options: ApiClientOptions = {}): ApiClient {
  const server = connection.server.replace(/\/+$/, '');
  const userAgent = options.userAgent ?? 'dns-tuner';

  function urlOf(path: string, query: Record<string, string | undefined>): URL {
    const url = new URL(server + path);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
    return url;
  }

  /** Sends a GET with fresh credentials; resolves with the response head. */
  async function open(url: URL, accept: string, signal: AbortSignal): Promise<Opened> {
    const requestOptions: HttpsRequestOptions = {
      method: 'GET',
      headers: { Accept: accept, 'User-Agent': userAgent },
    };
    await connection.authorize(requestOptions);
    signal.throwIfAborted();
    const request = url.protocol === 'https:' ? https.request : http.request;
    return await new Promise<Opened>((resolve, reject) => {
      const req = request(url, { ...requestOptions, signal });
      // TCP keepalive as client-go's dialer sets it: lets the kernel notice a dead peer on an idle stream.
      req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
      // Stays attached after the response: a later error (an abort) must not go unhandled.
      req.on('error', reject);
      req.on('response', (res) => resolve({ req, res }));
      req.end();
    });
  }

  /** GET → [status, body]; `timeoutMs` covers the whole exchange. */
  async function exchange(
    url: URL,
    accept: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<[number, string]> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new RequestTimeoutError(timeoutMs)), timeoutMs);
    const link = linkedSignal(signal, timeout.signal);
    try {
      const { req, res } = await open(url, accept, link.signal);
      try {
        return [res.statusCode ?? 0, await readBody(res)];
      } finally {
        await release(req);
      }
    } catch (error) {
      if (link.signal.aborted) throw link.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      link.dispose();
    }
  }

  return {
    async get(path, opts = {}) {
      const accept = opts.metadataOnly ? ACCEPT_METADATA : ACCEPT_JSON;
      const [status, body] = await exchange(urlOf(path, {}), accept, opts.timeoutMs ?? 30_000, opts.signal);
      if (status === 404) return { found: false };
      if (status !== 200) throw httpError(status, body);
      return { found: true, object: parseJson(body) };
    },

    async *list(path, opts = {}) {
      const accept = opts.metadataOnly ? ACCEPT_METADATA_LIST : ACCEPT_JSON;
      let cont: string | undefined;
      let first = true;
      let restarts = 0;
      for (;;) {
        // No resourceVersion: a consistent read, so a cache never travels back in time
        // (https://github.com/kubernetes/kubernetes/issues/59848).
        const url = urlOf(path, {
          limit: String(opts.pageSize ?? 500),
          continue: cont,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
        });
        const [status, body] = await exchange(url, accept, opts.pageTimeoutMs ?? 30_000, opts.signal);
        if (status === 410 && cont && restarts < MAX_LIST_RESTARTS) {
          // The continue token outlived etcd compaction: start the list over.
          restarts++;
          cont = undefined;
          first = true;
          continue;
        }
        if (status !== 200) throw httpError(status, body);
        const parsed = listSchema.safeParse(parseJson(body));
        if (!parsed.success) throw new Error(`unexpected response: ${describeIssues(parsed.error)}`);
        const { metadata, items } = parsed.data;
        yield { items: items ?? [], resourceVersion: metadata.resourceVersion, first };
        first = false;
        cont = metadata.continue || undefined;
        if (!cont) return;
      }
    },

    async watch(path, opts = {}) {
      const inactivityMs = opts.inactivityTimeoutMs ?? 120_000;
      const url = urlOf(path, {
        watch: '1',
        resourceVersion: opts.resourceVersion ?? '',
        allowWatchBookmarks: String(opts.allowWatchBookmarks ?? true),
        timeoutSeconds: opts.timeoutSeconds === undefined ? undefined : String(opts.timeoutSeconds),
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
      });
      const controller = new AbortController();
      const link = linkedSignal(opts.signal, controller.signal);
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(new WatchInactivityError(inactivityMs)), inactivityMs);
      };
      let closing: Promise<void> | undefined;
      let opened: Opened | undefined;
      const close = (): Promise<void> => {
        closing ??= (async () => {
          clearTimeout(timer);
          link.dispose();
          if (opened) await release(opened.req);
        })();
        return closing;
      };
      // Why the stream failed: our abort (inactivity, the caller's signal) says more than the socket error it caused.
      const failure = (error: unknown): unknown => (link.signal.aborted ? link.signal.reason : error);

      // The timer runs from the request on: a watch whose response never starts is caught the same way.
      arm();
      try {
        opened = await open(url, opts.metadataOnly ? ACCEPT_METADATA : ACCEPT_JSON, link.signal);
        if (opened.res.statusCode !== 200) throw httpError(opened.res.statusCode ?? 0, await readBody(opened.res));
      } catch (error) {
        await close();
        throw failure(error);
      }
      const { res } = opened;
      arm();

      async function* events(): AsyncGenerator<WatchEvent, void, undefined> {
        try {
          res.setEncoding('utf8');
          let buffer = '';
          for await (const chunk of res) {
            let from = buffer.length; // where a newline may be: earlier text was searched already
            buffer += chunk as string;
            let start = 0;
            for (let nl = buffer.indexOf('\n', from); nl >= 0; nl = buffer.indexOf('\n', from)) {
              const line = buffer.slice(start, nl).trim();
              start = from = nl + 1;
              if (!line) continue;
              const event = decodeEvent(line);
              arm();
              yield event;
            }
            buffer = buffer.slice(start);
            if (buffer.length > MAX_EVENT_CHARS) throw new Error(`event longer than ${MAX_EVENT_CHARS} characters`);
          }
          if (buffer.trim()) yield decodeEvent(buffer.trim());
        } catch (error) {
          if (link.signal.aborted) throw link.signal.reason;
          if ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || (error as Error).message === 'aborted') {
            throw new Error('connection closed mid-stream', { cause: error });
          }
          throw error;
        } finally {
          await close();
        }
      }

      const iterator = events();
      return { [Symbol.asyncIterator]: () => iterator, close };
    },
  };
}
