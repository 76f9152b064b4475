/**
 * A real Prometheus (Debian's `prometheus` package, which `.ci/run` installs) for the monitoring tests: its own
 * config, storage and loopback port in a temporary directory, so it never touches or collides with a Prometheus the
 * machine may run as a service. Read through its HTTP API.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { z } from 'zod';

const run = promisify(execFile);

export const PROMETHEUS = process.env.PROMETHEUS_BINARY ?? 'prometheus';
export const PROMTOOL = process.env.PROMTOOL_BINARY ?? 'promtool';

export interface Tool {
  code: number;
  output: string;
}

/** Runs promtool; never throws for a non-zero exit (the output says why), only when promtool is missing. */
export async function promtool(args: string[]): Promise<Tool> {
  try {
    const { stdout, stderr } = await run(PROMTOOL, args, { timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${PROMTOOL} is not on PATH: install the Debian package prometheus`);
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A port the kernel just handed out on 127.0.0.1 (Prometheus cannot listen on :0 and report the port). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const sample = z.tuple([z.number(), z.string()]);
const vectorSchema = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('vector'),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: sample })),
  }),
});
const errorSchema = z.object({ status: z.literal('error'), errorType: z.string(), error: z.string() });

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Prometheus writes +Inf, -Inf and NaN as strings. */
function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

const ruleSchema = z.object({
  name: z.string(),
  query: z.string(),
  health: z.string(),
  lastError: z.string().optional(),
  type: z.enum(['alerting', 'recording']),
  labels: z.record(z.string(), z.string()).optional(),
  state: z.string().optional(),
  lastEvaluation: z.string(),
});
const rulesSchema = z.object({
  status: z.literal('success'),
  data: z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(ruleSchema) })) }),
});
export type LoadedRule = z.infer<typeof ruleSchema>;

const targetsSchema = z.object({
  status: z.literal('success'),
  data: z.object({
    activeTargets: z.array(
      z.object({ labels: z.record(z.string(), z.string()), health: z.string(), lastError: z.string() }),
    ),
    droppedTargets: z.array(z.object({ discoveredLabels: z.record(z.string(), z.string()) })),
  }),
});
export type Targets = z.infer<typeof targetsSchema>['data'];

export interface RunningPrometheus {
  url: string;
  /** An instant query; rejects with Prometheus's own error (bad expression, evaluation failure). */
  query(expr: string): Promise<Sample[]>;
  /** The value of a query that must return exactly one sample. */
  value(expr: string): Promise<number>;
  rules(): Promise<LoadedRule[]>;
  targets(): Promise<Targets>;
  /** What the process printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts Prometheus with `config` (written as YAML into `dir`) and its TSDB in `dir/data`; resolves once ready. */
export async function startPrometheus(config: unknown, dir: string): Promise<RunningPrometheus> {
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, stringify(config));
  // A port can be taken between freePort() and Prometheus binding it: try again with another.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const prometheus = running(child, `http://127.0.0.1:${port}`);
    try {
      await prometheus.ready();
      return prometheus;
    } catch (error) {
      lastError = error;
      await prometheus.stop();
    }
  }
  throw lastError;
}

function running(child: ChildProcess, url: string): RunningPrometheus & { ready(): Promise<void> } {
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new Error(`${PROMETHEUS} is not on PATH: install the Debian package prometheus`)
          : error,
      ),
    );
    child.once('close', () => resolve());
  });
  exited.catch(() => {});
  const alive = () => child.exitCode === null && child.signalCode === null;

  async function api(path: string): Promise<unknown> {
    const res = await fetch(`${url}${path}`);
    const body: unknown = await res.json();
    const error = errorSchema.safeParse(body);
    if (error.success) throw new Error(`Prometheus ${path}: ${error.data.errorType}: ${error.data.error}`);
    return body;
  }

  const query = async (expr: string): Promise<Sample[]> => {
    const body = vectorSchema.parse(await api(`/api/v1/query?${new URLSearchParams({ query: expr })}`));
    return body.data.result.map((r) => ({ labels: r.metric, value: parseValue(r.value[1]) }));
  };

  return {
    url,
    output: () => out,
    query,
    async value(expr) {
      const samples = await query(expr);
      if (samples.length !== 1) throw new Error(`${expr}: expected one sample, got ${JSON.stringify(samples)}`);
      return samples[0]!.value;
    },
    async rules() {
      const body = rulesSchema.parse(await api('/api/v1/rules'));
      return body.data.groups.flatMap((g) => g.rules);
    },
    async targets() {
      return targetsSchema.parse(await api('/api/v1/targets')).data;
    },
    async ready() {
      const deadline = Date.now() + 30_000;
      for (;;) {
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 100))]);
        if (!alive()) throw new Error(`prometheus exited at start:\n${out}`);
        try {
          if ((await fetch(`${url}/-/ready`)).ok) return;
        } catch {
          // Not listening yet.
        }
        if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s:\n${out}`);
      }
    },
    async stop() {
      if (!alive()) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited.catch(() => {});
      clearTimeout(killer);
    },
  };
}
