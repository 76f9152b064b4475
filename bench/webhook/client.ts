/**
 * The load generator: N keep-alive HTTPS connections, each posting one review and waiting for the answer before the
 * next (the apiserver's webhook client neither pipelines nor multiplexes HTTP/1.1), for a fixed time. Every response
 * time is kept, with sub-millisecond resolution.
 *
 * Written for the benchmark instead of autocannon: it writes one prebuilt buffer per request and reads only the status
 * line, Content-Length and `"allowed":true` of the answer. Per request it costs the client core about what autocannon
 * does (26 µs against 27–30 µs for the small pod on the project's machine), keeps every response time instead of a
 * 1 ms histogram, and has nothing to configure.
 */
import { connect, type TLSSocket } from 'node:tls';

export interface LoadTarget {
  port: number;
  path: string;
  /** PEM of the CA the client trusts; the certificate is checked against `servername`, as the apiserver checks it. */
  ca: string;
  servername: string;
}

export interface LoadResult {
  /** Response times of the 2xx answers, ms. */
  latencies: Float64Array;
  completed: number;
  non2xx: number;
  /** Connection errors and 2xx answers whose body was not an allowed AdmissionReview. */
  failures: number;
  /** From the first request to the last answer, s. */
  seconds: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const ALLOWED = Buffer.from('"allowed":true');

/** The request bytes for `body`: the headers a Go http.Client sends for a POST with a JSON body, then the body. */
export function requestBytes(path: string, servername: string, body: Buffer): Buffer {
  const head =
    `POST ${path} HTTP/1.1\r\nHost: ${servername}\r\nUser-Agent: bench\r\nContent-Length: ${body.length}\r\n` +
    'Accept: application/json, */*\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** `Content-Length` of a response head (latin1), or -1. */
function contentLength(head: string): number {
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return match ? Number(match[1]) : -1;
}

/**
 * Drives `connections` connections for `seconds`, each cycling through `bodies`; resolves once the last answer is in
 * (requests are not started after the time is up). Without `rate`, each connection sends its next review as soon as
 * the answer is in (as fast as the server goes); with `rate` (reviews per second, all connections together), each
 * connection keeps to its own schedule, so two servers can be compared at the same load.
 */
export function drive(
  target: LoadTarget,
  bodies: readonly Buffer[],
  connections: number,
  seconds: number,
  rate?: number,
) {
  const requests = bodies.map((body) => requestBytes(target.path, target.servername, body));
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let completed = 0;
  let non2xx = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(seconds * 1e9));
  let lastAnswer = started;

  const record = (ms: number) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
  };

  /** Per connection, the time between two of its sends at `rate`, ns. */
  const interval = rate === undefined ? 0n : BigInt(Math.round((connections / rate) * 1e9));
  const run = (index: number) =>
    new Promise<void>((resolve) => {
      let next = index % requests.length;
      // Connections start spread over one interval, so the load is even.
      let slot = started + (interval * BigInt(index)) / BigInt(connections);
      let sentAt = 0n;
      let pending: Buffer | undefined;
      let socket: TLSSocket;

      const open = () => {
        socket = connect({ host: '127.0.0.1', port: target.port, servername: target.servername, ca: target.ca });
        socket.setNoDelay(true);
        socket.once('secureConnect', send);
        socket.on('data', onData);
        socket.on('error', () => {
          failures++;
        });
        socket.on('close', onClose);
      };
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        socket.removeListener('close', onClose);
        socket.destroy();
        resolve();
      };
      const send = () => {
        const now = process.hrtime.bigint();
        if (now >= deadline) return finish();
        if (interval > 0n && now < slot) {
          setTimeout(send, Number(slot - now) / 1e6);
          return;
        }
        slot += interval;
        pending = undefined;
        sentAt = now;
        socket.write(requests[next]!);
        next = (next + 1) % requests.length;
      };
      const onClose = () => {
        // The server closed the connection (a Connection: close answer, an error): reconnect while there is time.
        if (finished) return;
        if (process.hrtime.bigint() >= deadline) return finish();
        open();
      };
      const onData = (chunk: Buffer) => {
        pending = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
        const headEnd = pending.indexOf(HEADER_END);
        if (headEnd === -1) return;
        const head = pending.toString('latin1', 0, headEnd);
        const length = contentLength(head);
        const total = headEnd + HEADER_END.length + Math.max(length, 0);
        if (length < 0 || pending.length < total) {
          if (length < 0) {
            failures++;
            socket.destroy();
          }
          return;
        }
        const now = process.hrtime.bigint();
        lastAnswer = now;
        completed++;
        const status = Number(head.slice(9, 12));
        if (status < 200 || status >= 300) non2xx++;
        else if (pending.indexOf(ALLOWED, headEnd) === -1) failures++;
        else record(Number(now - sentAt) / 1e6);
        send();
      };
      open();
    });

  return Promise.all(Array.from({ length: connections }, (_, i) => run(i))).then(
    (): LoadResult => ({
      latencies: latencies.slice(0, count),
      completed,
      non2xx,
      failures,
      seconds: Number(lastAnswer - started) / 1e9,
    }),
  );
}
