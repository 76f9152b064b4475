/**
 * `npm run bench:profile`: where a review's CPU goes, dns-tuner beside the job's limit. Each server runs the
 * benchmark's setup (bench/webhook.ts: dns-tuner as `node dist/main.js` watching 10,000 namespaces on the fake API,
 * the job limit in its own process, the Deployment's NODE_OPTIONS, pinned to the server core) with `--cpu-prof`,
 * under the same load, in alternating rounds (job, ours, ours, job, …) so that drift on a shared machine lands on
 * all; the samples taken while the load ran are charged to the components of the request path
 * (./profile/components.ts) and printed as µs per review, side by side.
 *
 * The profiler itself costs CPU (sampling, stack walks), so the totals are above the unprofiled figures of
 * bench:webhook; the split between components is what this is for.
 *
 * Usage: npm run bench:profile -- [--pod small|typical|large] [--connections N] [--duration S] [--rounds N] [--interval US]
 *                                 [--baseline REF] [--top N] [--out FILE]
 *   --baseline REF  also profile the build of git REF (before → after in one run)
 *   --out FILE      write the Markdown into FILE's "## Where a review's CPU goes" section (docs/benchmarks.md)
 *   --keep DIR      keep the profiles (one directory per server: 0 the job limit, then dns-tuner)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EXAMPLE_CONFIG, SERVICE_NAME } from '../lab/paths.ts';
import { makeCa, makeServingCert } from '../lab/pki.ts';
import { LARGE_POD_BYTES, largeReview, podReview, reviewBytes, SMALL, TYPICAL } from '../lab/pod-reviews.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { defaultPolicyNamespaces } from './namespaces.ts';
import { breakdown, COMPONENTS, type CpuProfile, type Window } from './profile/components.ts';
import { fixed, loadAverage, machine, shellWord, table } from './report.ts';
import { drive } from './webhook/client.ts';
import { startCluster } from './webhook/cluster.ts';
import { MAIN_NAMESPACES, PRIME_SECONDS } from './webhook/experiments.ts';
import { kib } from './webhook/markdown.ts';
import { pinLoadGenerator } from './webhook/pinning.ts';
import { progress } from './webhook/rounds.ts';
import { type BenchServer, exampleConfigOf, Servers, targetOf } from './webhook/servers.ts';

const SECTION = "Where a review's CPU goes";
const SECTION_ID = 'bench:profile';
const USAGE = `usage: npm run bench:profile -- [options]
  --pod NAME        small, typical (default) or large
  --connections N   concurrent connections (default 32)
  --duration S      seconds of profiled load per server and round (default 5), each after a 1 s warm-up
  --rounds N        alternating rounds (default 3)
  --interval US     sampling interval of the profiler, µs (default 2000: finer intervals cost dns-tuner's deeper
                    stacks more than the limit's and skew the comparison)
  --baseline REF    also profile the build of git REF
  --top N           rows of the per-function table (default 20)
  --out FILE        write the Markdown into FILE's "## ${SECTION}" section
  --keep DIR        keep the .cpuprofile files in DIR (open them in Chrome DevTools)`;

interface Run {
  label: string;
  completed: number;
  rps: number;
  perReview: Map<string, number>;
  busyPerReview: number;
  functions: Array<[string, number]>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      pod: { type: 'string', default: 'typical' },
      connections: { type: 'string', default: '32' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      interval: { type: 'string', default: '2000' },
      baseline: { type: 'string' },
      top: { type: 'string', default: '20' },
      out: { type: 'string' },
      keep: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const number = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got ${text}`);
    return n;
  };
  const pod = values.pod;
  if (pod !== 'small' && pod !== 'typical' && pod !== 'large') throw new Error(`--pod: unknown ${pod}`);
  const connections = number('connections', values.connections);
  const duration = number('duration', values.duration);
  const rounds = number('rounds', values.rounds);
  const interval = number('interval', values.interval);
  const top = number('top', values.top);

  const layout = pinLoadGenerator();
  const loadBefore = loadAverage();
  const date = new Date().toISOString();
  const args = process.argv.slice(2).map(shellWord);
  const command = ['npm run bench:profile', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
  progress(`bench:profile: ${layout}; load average before ${loadBefore}`);

  const authority = await makeCa({ commonName: 'bench CA' });
  const pem = await makeServingCert(authority, { hosts: [SERVICE_NAME, 'localhost', '127.0.0.1'] });
  const servers = new Servers(pem);
  const profiles = values.keep ?? mkdtempSync(join(tmpdir(), 'dns-tuner-profiles-'));
  const cluster = await startCluster(MAIN_NAMESPACES);
  const runs: Run[] = [];
  let bytes = 0;
  try {
    const [namespace] = defaultPolicyNamespaces(MAIN_NAMESPACES, 1);
    const review = { namespace: namespace! };
    const body = reviewBytes(
      pod === 'small'
        ? podReview(SMALL, review)
        : pod === 'typical'
          ? podReview(TYPICAL, review)
          : largeReview(review, LARGE_POD_BYTES),
    );
    bytes = body.length;
    const contenders: Array<{ label: string; start: (argv: string[]) => Promise<BenchServer> }> = [
      { label: 'job limit', start: (argv) => servers.startLimit('job', MAIN_NAMESPACES, argv) },
      ...(values.baseline === undefined
        ? []
        : [
            {
              label: `dns-tuner@${values.baseline}`,
              start: (argv: string[]) =>
                servers.startOurs(
                  {
                    main: servers.main(values.baseline),
                    build: `@${values.baseline}`,
                    kubeconfig: cluster.kubeconfigPath,
                    config: exampleConfigOf(servers.main(values.baseline)),
                  },
                  argv,
                ),
            },
          ]),
      {
        label: 'dns-tuner',
        start: (argv) =>
          servers.startOurs(
            { main: servers.main(undefined), build: '', kubeconfig: cluster.kubeconfigPath, config: EXAMPLE_CONFIG },
            argv,
          ),
      },
    ];
    const running: Array<{
      label: string;
      dir: string;
      server: BenchServer;
      windows: Window[];
      completed: number;
      seconds: number;
    }> = [];
    for (const [index, contender] of contenders.entries()) {
      const dir = join(profiles, String(index));
      const server = await contender.start(['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${interval}`]);
      running.push({ label: contender.label, dir, server, windows: [], completed: 0, seconds: 0 });
    }
    await sleep(2_000);
    // Outside the profiled windows, as bench:webhook does: the settled cost, not the start-up.
    for (const run of running) await drive(targetOf(run.server, authority.cert), [body], connections, PRIME_SECONDS);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? running : [...running].reverse();
      for (const run of order) {
        const target = targetOf(run.server, authority.cert);
        await drive(target, [body], connections, 1);
        const from = Number(process.hrtime.bigint() / 1000n);
        const result = await drive(target, [body], connections, duration);
        run.windows.push({ from, to: Number(process.hrtime.bigint() / 1000n) });
        run.completed += result.completed;
        run.seconds += result.seconds;
        progress(`${run.label} round ${round + 1}/${rounds}: ${fixed(result.completed / result.seconds, 0)} reviews/s`);
      }
    }
    for (const run of running) {
      await servers.stop(run.server);
      const [file] = readdirSync(run.dir).filter((f) => f.endsWith('.cpuprofile'));
      if (file === undefined) throw new Error(`${run.label}: no CPU profile written in ${run.dir}`);
      const profile = JSON.parse(readFileSync(join(run.dir, file), 'utf8')) as CpuProfile;
      if (profile.startTime > run.windows[0]!.from || profile.endTime < run.windows.at(-1)!.to) {
        throw new Error(
          `${run.label}: the profile (${profile.startTime}–${profile.endTime} µs) misses the load windows`,
        );
      }
      const b = breakdown(profile, run.windows);
      const per = (us: number) => us / run.completed;
      runs.push({
        label: run.label,
        completed: run.completed,
        rps: run.completed / run.seconds,
        perReview: new Map([...b.byComponent].map(([k, v]) => [k, per(v)])),
        busyPerReview: per(b.busy),
        functions: [...b.byFunction].map(([k, v]): [string, number] => [k, per(v)]).sort((a, c) => c[1] - a[1]),
      });
      progress(`${run.label}: ${run.completed} reviews, ${fixed(per(b.busy), 0)} µs of profiled CPU each`);
    }
  } finally {
    await cluster.close();
    servers.killAll();
    if (values.keep === undefined) rmSync(profiles, { recursive: true, force: true });
  }

  const m = machine();
  const ours = runs.at(-1)!;
  const job = runs[0]!;
  const out: string[] = [
    `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memory}; Node ${m.node}.`,
    `- Command: \`${command}\`: the ${pod} pod (${kib(bytes)}), ${connections} connections, ${rounds} alternating rounds of ${duration} s of profiled load per server (each after a 1 s warm-up), sampled every ${interval} µs.`,
    `- Date: ${date}. Load average before: ${loadBefore}; after: ${loadAverage()}. Layout: ${layout}.`,
    "- Setup as bench:webhook's (dns-tuner is `node dist/main.js` watching the fake API; the Deployment's NODE_OPTIONS).",
    '  The servers run side by side and take turns under load. The profiler costs CPU itself: totals run above',
    "  bench:webhook's unprofiled CPU per review; the split is what this table is for.",
    '',
    '### Profiled CPU per review, by component (µs)',
    '',
    table(
      ['component', ...runs.map((r) => r.label), `${ours.label} − ${job.label}`],
      [
        ...COMPONENTS.filter((c) => runs.some((r) => (r.perReview.get(c) ?? 0) >= 0.05)).map((c) => [
          c,
          ...runs.map((r) => fixed(r.perReview.get(c) ?? 0, 1)),
          fixed((ours.perReview.get(c) ?? 0) - (job.perReview.get(c) ?? 0), 1),
        ]),
        [
          '**total**',
          ...runs.map((r) => `**${fixed(r.busyPerReview, 1)}**`),
          `**${fixed(ours.busyPerReview - job.busyPerReview, 1)}**`,
        ],
        ['reviews per second while profiled', ...runs.map((r) => fixed(r.rps, 0)), ''],
      ],
    ),
    '',
    `### ${ours.label}: the ${top} functions with the most self time (µs per review)`,
    '',
    table(
      ['function', 'µs', 'share'],
      ours.functions
        .slice(0, top)
        .map(([name, us]) => [`\`${name}\``, fixed(us, 1), `${fixed((us / ours.busyPerReview) * 100, 1)} %`]),
    ),
    '',
  ];
  const text = out.join('\n');
  process.stdout.write(`## ${SECTION}\n\n${text}\n`);
  if (values.out) {
    writeMarkedSection(values.out, SECTION_ID, SECTION, text);
    progress(`bench:profile: wrote "## ${SECTION}" in ${values.out}`);
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`bench:profile: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exitCode = 2;
}
