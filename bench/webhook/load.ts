/**
 * Load on one server: autocannon over HTTPS with keep-alive and no pipelining (the apiserver's webhook client does not
 * pipeline), every response time kept (autocannon's own histogram has 1 ms resolution), the server's CPU time read
 * over IPC before and after and its peak RSS sampled from /proc during the run. Plus the single checked review that
 * precedes every measurement.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { httpsPost } from '../../lab/client.ts';
import { SERVICE_NAME } from '../../lab/paths.ts';
import { percentile } from '../../lab/stats.ts';
import { MUTATE_PATH } from '../../src/http/webhook-app.ts';
import type { BenchServer } from './servers.ts';

export interface Sample {
  rps: number;
  p50: number;
  p99: number;
  completed: number;
  non2xx: number;
  /** Connection errors, timeouts and bodies that were not an allowed AdmissionReview. */
  failures: number;
  peakRss: number;
  /** Server CPU (user + system) per 1,000 reviews, ms. */
  cpuPer1k: number;
  /** Server CPU time / wall time: 100 % is one core saturated. */
  cpuPct: number;
}

export interface LoadGenerator {
  /** One measured run. */
  load(server: BenchServer, bodies: Buffer[], connections: number, seconds: number): Promise<Sample>;
  /** A short discarded run before each measured one: JIT-compiled code and a grown heap on both sides. */
  warm(server: BenchServer, bodies: Buffer[], connections: number, seconds: number): Promise<void>;
  /** One review, checked: 200 and an allowed AdmissionReview, with a patch when `expectPatch`; returns the body. */
  preflight(server: BenchServer, body: Buffer, expectPatch: boolean): Promise<string>;
}

/** Clients that trust only `ca` (the bench CA) and check the certificate against the Service name. */
export function loadGenerator(ca: string): LoadGenerator {
  const cannon = (server: BenchServer, bodies: Buffer[], connections: number, seconds: number) =>
    autocannon({
      url: `https://127.0.0.1:${server.port}${MUTATE_PATH}`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      ...(bodies.length === 1 ? { body: bodies[0] } : { requests: bodies.map((body) => ({ body })) }),
      connections,
      pipelining: 1,
      duration: seconds,
      // The longest a webhook call may take (timeoutSeconds ≤ 30).
      timeout: 30,
      servername: SERVICE_NAME,
      tlsOptions: { ca },
      verifyBody: (body) => body.includes('"allowed":true'),
    });

  return {
    async load(server, bodies, connections, seconds) {
      const before = await server.usage();
      let peakRss = server.rssNow();
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, server.rssNow());
      }, 100);
      const latencies: number[] = [];
      const started = performance.now();
      const instance = cannon(server, bodies, connections, seconds);
      // Every response time (ms, fractional): autocannon's own histogram rounds to whole milliseconds.
      instance.on('response', (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) latencies.push(ms);
      });
      const result = await instance;
      const wall = (performance.now() - started) / 1000;
      clearInterval(sampler);
      peakRss = Math.max(peakRss, server.rssNow());
      const after = await server.usage();
      const sorted = Float64Array.from(latencies).sort();
      const cpuMs = (after.cpuUs - before.cpuUs) / 1000;
      const completed = result.requests.total;
      return {
        rps: result['2xx'] / result.duration,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        completed,
        non2xx: result.non2xx,
        failures: result.errors + result.timeouts + result.mismatches,
        peakRss,
        cpuPer1k: completed > 0 ? (cpuMs / completed) * 1000 : Number.NaN,
        cpuPct: (cpuMs / 1000 / wall) * 100,
      };
    },

    async warm(server, bodies, connections, seconds) {
      await cannon(server, bodies, connections, seconds);
    },

    async preflight(server, body, expectPatch) {
      const { status, body: text } = await httpsPost(server.port, MUTATE_PATH, body, { ca, servername: SERVICE_NAME });
      const response = (JSON.parse(text) as { response?: { allowed?: unknown; patchType?: unknown } }).response;
      if (status !== 200 || response?.allowed !== true)
        throw new Error(`preflight (${server.role}): ${status} ${text.slice(0, 300)}`);
      if (expectPatch && response.patchType !== 'JSONPatch')
        throw new Error(`preflight (${server.role}): expected a mutation, got ${text.slice(0, 300)}`);
      return text;
    },
  };
}
