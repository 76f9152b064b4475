/** The command line of `npm run bench:webhook`: what to measure, for how long, and where the Markdown goes. */
import { parseArgs } from 'node:util';

/** The docs/benchmarks.md section `--out` writes: its heading and its marker id. */
export const SECTION = 'Webhook cost';
export const SECTION_ID = 'bench:webhook';
export const SECTIONS = ['small', 'typical', 'large', 'pod-size', 'namespaces'] as const;
export type SectionName = (typeof SECTIONS)[number];
export type PodName = 'small' | 'typical' | 'large';

export interface Flags {
  duration: number;
  warmup: number;
  rounds: number;
  concurrency: number[];
  only: Set<SectionName>;
  out: string | undefined;
  /** A git ref whose build runs beside this checkout's as a fourth contender (`dns-tuner@REF`). */
  baseline: string | undefined;
  /** A git ref whose build is measured instead of this checkout's (to measure one past change against its parent). */
  ours: string | undefined;
  /** Extra Node.js flags for every server process, on top of the Deployment's NODE_OPTIONS. */
  serverFlags: string[];
  /** Replaces the Deployment's NODE_OPTIONS for every server (to try memory settings). */
  nodeOptions: string | undefined;
  /** The regression guard: a short run compared with the floors in bench/webhook/floors.json. */
  check: boolean;
  quick: boolean;
}

export const USAGE = `usage: npm run bench:webhook -- [options]
  --quick              short smoke run (1 s runs, 1 round) to check the harness
  --check              the regression guard: short A/B rounds against the job limit, compared with the floors in
                       bench/webhook/floors.json; exits 1 on a regression
  --duration S         seconds per measured run (default 5; quick 1; check 2)
  --rounds N           A/B rounds per cell, medians reported (default 3; quick 1; check 5)
  --concurrency LIST   connections for the main table (default 1,8,32,100)
  --only LIST          any of ${SECTIONS.join(', ')} (default all)
  --baseline REF       also measure the build of git REF (e.g. HEAD~1), alternating with this checkout's
  --ours REF           measure the build of git REF instead of this checkout's (with --baseline REF~1: one change)
  --out FILE           write the Markdown into FILE's "## ${SECTION}" section (e.g. docs/benchmarks.md)
  --server-flags=F     extra Node.js flags for every server, space-separated
  --node-options=F     replace the Deployment's NODE_OPTIONS for every server`;

/** The flags, or `help` for --help; throws on a bad value, naming the flag and the value. */
export function parseFlags(argv: string[]): Flags | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      concurrency: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      baseline: { type: 'string' },
      ours: { type: 'string' },
      'server-flags': { type: 'string' },
      'node-options': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const positive = (name: string, text: string | undefined, fallback: number, integer: boolean): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
      throw new Error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(text)}`);
    return n;
  };
  const { quick, check } = values;
  if (check && (values.out !== undefined || values.only !== undefined || values.baseline !== undefined)) {
    throw new Error('--check runs its own cells: it takes no --out, --only or --baseline');
  }
  const duration = positive('duration', values.duration, quick ? 1 : check ? 2 : 5, false);
  const only = new Set<SectionName>();
  for (const word of (values.only ?? SECTIONS.join(',')).split(',')) {
    const w = word.trim();
    if (!(SECTIONS as readonly string[]).includes(w))
      throw new Error(`--only: unknown ${JSON.stringify(w)}; expected some of ${SECTIONS.join(', ')}`);
    only.add(w as SectionName);
  }
  const concurrency = (values.concurrency ?? '1,8,32,100')
    .split(',')
    .map((c) => positive('concurrency', c.trim(), 1, true));
  return {
    duration,
    warmup: Math.max(0.5, Math.min(2, duration / 3)),
    rounds: positive('rounds', values.rounds, quick ? 1 : check ? 5 : 3, true),
    concurrency,
    only,
    out: values.out,
    baseline: values.baseline,
    ours: values.ours,
    serverFlags: (values['server-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
    nodeOptions: values['node-options'],
    check,
    quick,
  };
}
