/**
 * Abusive clients over real sockets against the real HTTPS webhook app: a slowloris trickling headers, a client that
 * stalls or trickles its body, bodies over the limit (announced and chunked), and hundreds of idle connections. The
 * server must cut the abusers off, keep its keep-alive connections for the apiserver, and keep answering a good
 * client. Outcomes are asserted (closed, status line, answered); waits are only bounds.
 *
 * The cut-offs are Node's (headersTimeout, requestTimeout, checked every connectionsCheckingInterval), configured by
 * buildWebhookApp with production values of 10 s and 30 s; the tests that need a cut-off within seconds build a second
 * app with the `timeouts` option shortened, after asserting that the default app carries the production values.
 */
import type { Server } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsPost } from '../../lab/client.ts';
import { SERVICE_NAME } from '../../lab/paths.ts';
import { exampleReview, responseOf } from '../../lab/review.ts';
import {
  DEFAULT_BODY_LIMIT,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS,
  TLS_HANDSHAKE_TIMEOUT_MS,
} from '../../src/http/webhook-app.ts';
import { checkCodedError } from '../support/hardening.ts';
import { type HttpsWebhook, startHttpsWebhook } from '../support/webhook.ts';

/** Short stand-ins for the production timeouts (10 s headers, 30 s request); the check runs every 50 ms. */
const SHORT = { headersMs: 400, requestMs: 900, checkEveryMs: 50 };
/** How long a test waits for the server to cut a connection: far beyond SHORT, far below the production values. */
const CUT_OFF_BOUND_MS = 6_000;

/** Built exactly as main.ts builds it. */
let production: HttpsWebhook;
/** The same, with SHORT timeouts. */
let short: HttpsWebhook;

beforeAll(async () => {
  production = await startHttpsWebhook({ caName: 'abuse CA', hosts: [SERVICE_NAME] });
  short = await startHttpsWebhook({
    caName: 'abuse CA (short timeouts)',
    hosts: [SERVICE_NAME],
    timeouts: {
      headersMs: SHORT.headersMs,
      requestMs: SHORT.requestMs,
      connectionsCheckingIntervalMs: SHORT.checkEveryMs,
    },
  });
});

afterAll(async () => {
  await production?.close();
  await short?.close();
});

const REVIEW = JSON.stringify(exampleReview());

function connect(web: HttpsWebhook): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: web.port, ca: web.ca.cert, servername: SERVICE_NAME }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
}

interface Ending {
  /** The server closed the connection within the bound. */
  closed: boolean;
  /** Everything the server sent. */
  received: string;
}

/** Collects what the server sends until it closes the connection, or gives up after `boundMs`. */
function untilClosed(socket: tls.TLSSocket, boundMs = CUT_OFF_BOUND_MS): Promise<Ending> {
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    // Writes racing the server's close fail with EPIPE/ECONNRESET; the close is what is being waited for.
    socket.on('error', () => {});
    const timer = setTimeout(() => resolve({ closed: false, received }), boundMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received });
    });
  });
}

/** A good review over a fresh connection must still be answered (and mutated). */
async function expectServes(web: HttpsWebhook): Promise<void> {
  const res = await httpsPost(web.port, '/mutate', REVIEW, { ca: web.ca.cert, servername: SERVICE_NAME });
  expect(res.status).toBe(200);
  expect(responseOf(res.body).patchType).toBe('JSONPatch');
}

function requestHead(headers: Record<string, string | number>): string {
  const lines = ['POST /mutate HTTP/1.1', `Host: ${SERVICE_NAME}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The next complete response (headers and Content-Length body) on a connection, or an error after the bound. */
function nextResponse(socket: tls.TLSSocket): Promise<ReturnType<typeof firstResponse>> {
  return new Promise((resolve, reject) => {
    let raw = '';
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(firstResponse(raw));
    };
    const onData = (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(raw.slice(0, end))?.[1] ?? 0);
      if (raw.length >= end + 4 + length) done();
    };
    const onClose = () => done(new Error(`connection closed before a whole response: ${JSON.stringify(raw)}`));
    const timer = setTimeout(
      () => done(new Error(`no whole response within ${CUT_OFF_BOUND_MS} ms`)),
      CUT_OFF_BOUND_MS,
    );
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Parses the first HTTP response out of raw bytes. */
function firstResponse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...headerLines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  return { status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(end + 4, end + 4 + length) };
}

describe('the app is built with the production timeouts the tests below shorten', () => {
  it('headers 10 s, request 30 s, keep-alive 120 s, TLS handshake 10 s, checked often enough to matter', () => {
    const server = production.app.server as Server & { connectionsCheckingInterval: number };
    expect(server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
    expect(server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    expect(server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
    expect(HEADERS_TIMEOUT_MS).toBeLessThan(REQUEST_TIMEOUT_MS);
    expect(server.connectionsCheckingInterval).toBeLessThanOrEqual(HEADERS_TIMEOUT_MS);
    expect(TLS_HANDSHAKE_TIMEOUT_MS).toBeLessThanOrEqual(HEADERS_TIMEOUT_MS);
  });
});

describe('slow clients are cut off', () => {
  it('a slowloris trickling header lines is cut off by the headers timeout with a 408', async () => {
    const socket = await connect(short);
    socket.write('POST /mutate HTTP/1.1\r\n');
    let n = 0;
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write(`X-Slow-${n++}: a\r\n`);
    }, 50);
    try {
      const ending = await untilClosed(socket);
      expect(ending.closed).toBe(true);
      expect(ending.received).toMatch(/^HTTP\/1\.1 408 /);
      // It kept sending the whole time: trickling does not renew the headers deadline.
      expect(n).toBeGreaterThan(2);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    await expectServes(short);
  });

  it('a connection that never sends a request is closed by the headers timeout', async () => {
    const socket = await connect(short);
    const ending = await untilClosed(socket);
    expect(ending.closed).toBe(true);
    expect(ending.received).toMatch(/^(HTTP\/1\.1 408 |$)/);
  });

  it('a client that sends half its body and stalls is cut off by the request timeout with a 408', async () => {
    const socket = await connect(short);
    socket.write(requestHead({ 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(REVIEW) }));
    socket.write(REVIEW.slice(0, REVIEW.length >> 1));
    const ending = await untilClosed(socket);
    socket.destroy();
    expect(ending.closed).toBe(true);
    expect(ending.received).toMatch(/^HTTP\/1\.1 408 /);
    await expectServes(short);
  });

  it('a client trickling its body byte by byte is cut off by the request timeout', async () => {
    const socket = await connect(short);
    socket.write(requestHead({ 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(REVIEW) }));
    let sent = 0;
    const trickle = setInterval(() => {
      if (!socket.destroyed && sent < REVIEW.length) socket.write(REVIEW[sent++] ?? '');
    }, 20);
    try {
      const ending = await untilClosed(socket);
      expect(ending.closed).toBe(true);
      expect(ending.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(sent).toBeLessThan(REVIEW.length);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    await expectServes(short);
  });

  it('an idle keep-alive connection outlives the headers timeout (the apiserver reuses them for 90 s)', async () => {
    const socket = await connect(short);
    const ending = untilClosed(socket, 60_000);
    try {
      const request = requestHead({ 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(REVIEW) });
      socket.write(request + REVIEW);
      expect((await nextResponse(socket)).status).toBe(200);
      await sleep(SHORT.headersMs * 4);
      expect(socket.destroyed).toBe(false);
      // The same connection still serves the next review.
      socket.write(request + REVIEW);
      expect((await nextResponse(socket)).status).toBe(200);
    } finally {
      socket.destroy();
      await ending;
    }
  });
});

describe('bodies over the limit are refused and the connection closed', () => {
  it('an announced Content-Length over the limit: 413 with the coded error, before the body is read', async () => {
    const socket = await connect(production);
    socket.write(requestHead({ 'Content-Type': 'application/json', 'Content-Length': DEFAULT_BODY_LIMIT + 1 }));
    socket.write('{"apiVersion":"admission.k8s.io/v1",');
    const ending = await untilClosed(socket);
    socket.destroy();
    expect(ending.closed).toBe(true);
    const res = firstResponse(ending.received);
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    checkCodedError({ kind: 'too-large', body: '' }, { statusCode: res.status, headers: res.headers, body: res.body });
    expect(JSON.parse(res.body).code).toBe('DNS_TUNER_BODY_TOO_LARGE');
    await expectServes(production);
  });

  it('a chunked body that grows past the limit: 413 and closed while the client is still sending', async () => {
    const socket = await connect(production);
    socket.write(requestHead({ 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }));
    const chunk = `{"padding":"${'x'.repeat(64 * 1024 - 14)}"}`;
    let sent = 0;
    const pump = setInterval(() => {
      // Keeps sending well past the limit unless the server cuts it off.
      if (!socket.destroyed && sent < DEFAULT_BODY_LIMIT * 3) {
        socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        sent += chunk.length;
      }
    }, 2);
    try {
      const ending = await untilClosed(socket);
      expect(ending.closed).toBe(true);
      const res = firstResponse(ending.received);
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body).code).toBe('DNS_TUNER_BODY_TOO_LARGE');
    } finally {
      clearInterval(pump);
      socket.destroy();
    }
    await expectServes(production);
  });

  it('a whole body over the limit from a normal client: refused (413 or reset mid-upload), server fine', async () => {
    const big = JSON.stringify({ ...exampleReview(), padding: 'x'.repeat(DEFAULT_BODY_LIMIT) });
    const outcome = await httpsPost(production.port, '/mutate', big, {
      ca: production.ca.cert,
      servername: SERVICE_NAME,
    }).then(
      (res) => res,
      (error: NodeJS.ErrnoException) => error,
    );
    if (outcome instanceof Error) expect(outcome.code).toMatch(/^(EPIPE|ECONNRESET)$/);
    else expect(outcome.status).toBe(413);
    await expectServes(production);
  });
});

describe('bodies being received at once are bounded (heap), not only each body', () => {
  it('past the in-flight budget a request gets 503 before its body is read; freed, the next is served', async () => {
    const budget = 2 * 1024 * 1024;
    const small = await startHttpsWebhook({
      caName: 'abuse CA (budget)',
      hosts: [SERVICE_NAME],
      bodyBytesInFlight: budget,
    });
    try {
      // Two stalled uploads announcing 1 MiB each take the whole budget.
      const stalled = await Promise.all([connect(small), connect(small)]);
      for (const socket of stalled) {
        socket.on('error', () => {});
        socket.write(requestHead({ 'Content-Type': 'application/json', 'Content-Length': 1024 * 1024 }));
        socket.write('{"apiVersion":');
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      const refused = await httpsPost(small.port, '/mutate', REVIEW, { ca: small.ca.cert, servername: SERVICE_NAME });
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'DNS_TUNER_OVERLOADED', statusCode: 503 });
      for (const socket of stalled) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await expectServes(small);
    } finally {
      await small.close();
    }
  });
});

describe('idle connections do not starve a good client', () => {
  it('with 100 idle TCP and 100 idle TLS connections open, good reviews are still answered', async () => {
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const socket = net.connect({ host: '127.0.0.1', port: production.port });
        socket.on('error', () => {});
        idle.push(socket);
      }
      // TLS connections that complete the handshake and then say nothing (each costs the server a TLS session).
      const tlsIdle = await Promise.all(Array.from({ length: 100 }, () => connect(production)));
      for (const socket of tlsIdle) socket.on('error', () => {});
      idle.push(...tlsIdle);
      expect(idle.filter((s) => !s.destroyed)).toHaveLength(200);

      const agent = new https.Agent({ keepAlive: true });
      try {
        for (let i = 0; i < 10; i++) {
          const res = await httpsPost(production.port, '/mutate', REVIEW, {
            ca: production.ca.cert,
            servername: SERVICE_NAME,
            agent,
          });
          expect(res.status).toBe(200);
          expect(responseOf(res.body).patchType).toBe('JSONPatch');
        }
      } finally {
        agent.destroy();
      }
      await expectServes(production);
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });
});
