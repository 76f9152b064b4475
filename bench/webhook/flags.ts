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
  /** Directory for V8 CPU profiles of the server processes (--cpu-prof), written when they exit. */
  profile: string | undefined;
  /** Extra Node.js flags for both server processes (e.g. `--max-semi-space-size=8`), to try memory settings. */
  serverFlags: string[];
  quick: boolean;
}

export const USAGE = `usage: npm run bench:webhook -- [options]
  --quick              short smoke run (1 s runs, 1 round) to check the harness
  --duration S         seconds per measured run (default 5; quick 1)
  --rounds N           A/B rounds per cell, medians reported (default 3; quick 1)
  --concurrency LIST   connections for the main table (default 1,8,32,100)
  --only LIST          any of ${SECTIONS.join(', ')} (default all)
  --out FILE           write the Markdown into FILE's "## ${SECTION}" section (e.g. docs/benchmarks.md)
  --profile DIR        write a V8 CPU profile of each server process into DIR (open in Chrome DevTools)
  --server-flags=F     extra Node.js flags for both servers, space-separated, e.g. --server-flags=--max-semi-space-size=8`;

/** The flags, or `help` for --help; throws on a bad value, naming the flag and the value. */
export function parseFlags(argv: string[]): Flags | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      concurrency: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
      'server-flags': { type: 'string' },
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
  const quick = values.quick;
  const duration = positive('duration', values.duration, quick ? 1 : 5, false);
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
    warmup: Math.max(0.3, Math.min(2, duration / 5)),
    rounds: positive('rounds', values.rounds, quick ? 1 : 3, true),
    concurrency,
    only,
    out: values.out,
    profile: values.profile,
    serverFlags: (values['server-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
    quick,
  };
}
