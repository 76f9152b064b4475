/**
 * Command-line flags and their environment equivalents for `dns-tuner` (src/main.ts). A flag wins over its
 * environment variable; a flag given twice takes its last value (`npm start -- --port 9444` appends after the
 * script's own flags). Every error names the flag (or variable) and the value, for exit code 2.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';

const USAGE_EXIT_CODE = 2;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Flags {
  config?: string | undefined;
  namespaces?: string | undefined;
  kubeconfig?: string | undefined;
  tlsCert: string;
  tlsKey: string;
  /** 0 asks the OS for a free port (tests); the banner prints the real one. */
  port: number;
  opsPort: number;
  host: string;
  logLevel: LogLevel;
  drainDelaySeconds: number;
}

/** Where a setting came from: a flag on the command line, its environment variable, or the built-in default. */
export type FlagOrigin = 'flag' | 'env' | 'default';

export type FlagsParse =
  | { ok: true; help: true }
  | { ok: true; help: false; flags: Flags; origins: Partial<Record<keyof Flags, FlagOrigin>> }
  | { ok: false; error: string; exitCode: typeof USAGE_EXIT_CODE };

interface FlagSpec {
  /** Key in Flags. */
  key: keyof Flags;
  env: string;
  valueName: string;
  help: string;
  default?: string;
  /** Validates and converts the text given. */
  schema: z.ZodType;
  /** What the value must be, for the error: `--port: "x" is not <expected>`. */
  expected: string;
}

const filePath = { schema: z.string().min(1), expected: 'a file path' };

// 0 is accepted: it asks the OS for a free port (tests).
const portNumber = {
  schema: z
    .string()
    .regex(/^\d{1,5}$/)
    .transform(Number)
    .refine((n) => n <= 65535),
  expected: 'a port number (1-65535)',
};

const SPECS = {
  config: {
    key: 'config',
    env: 'DNS_TUNER_CONFIG',
    valueName: 'FILE',
    help: 'policy configuration (YAML); default: built-in',
    ...filePath,
  },
  namespaces: {
    key: 'namespaces',
    env: 'DNS_TUNER_NAMESPACES',
    valueName: 'FILE',
    help: 'read Namespaces (and NetworkPolicies, kube-dns, CoreDNS, DaemonSets) from this YAML file, not the cluster',
    ...filePath,
  },
  kubeconfig: {
    key: 'kubeconfig',
    env: 'KUBECONFIG',
    valueName: 'FILE',
    help: 'kubeconfig for the cluster namespace source; default: in-cluster, else ~/.kube/config',
    ...filePath,
  },
  'tls-cert': {
    key: 'tlsCert',
    env: 'DNS_TUNER_TLS_CERT',
    valueName: 'FILE',
    help: 'serving certificate chain (PEM)',
    default: 'certs/tls.crt',
    ...filePath,
  },
  'tls-key': {
    key: 'tlsKey',
    env: 'DNS_TUNER_TLS_KEY',
    valueName: 'FILE',
    help: 'serving key (PEM)',
    default: 'certs/tls.key',
    ...filePath,
  },
  port: {
    key: 'port',
    env: 'DNS_TUNER_PORT',
    valueName: 'PORT',
    help: 'webhook HTTPS port',
    default: '9443',
    ...portNumber,
  },
  'ops-port': {
    key: 'opsPort',
    env: 'DNS_TUNER_OPS_PORT',
    valueName: 'PORT',
    help: 'plain HTTP port for /livez, /readyz, /metrics',
    default: '8080',
    ...portNumber,
  },
  host: {
    key: 'host',
    env: 'DNS_TUNER_HOST',
    valueName: 'ADDRESS',
    help: 'address to listen on',
    default: '0.0.0.0',
    schema: z.string().min(1),
    expected: 'a host name or IP address',
  },
  'log-level': {
    key: 'logLevel',
    env: 'DNS_TUNER_LOG_LEVEL',
    valueName: 'LEVEL',
    help: LOG_LEVELS.join('|'),
    default: 'info',
    schema: z.enum(LOG_LEVELS),
    expected: `a log level (${LOG_LEVELS.join(', ')})`,
  },
  'drain-delay': {
    key: 'drainDelaySeconds',
    env: 'DNS_TUNER_DRAIN_DELAY',
    valueName: 'SECONDS',
    help: 'on SIGTERM, keep serving (not ready) this long before closing',
    default: '5',
    schema: z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .transform(Number)
      .refine((n) => n <= 300),
    expected: 'a number of seconds (0-300)',
  },
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof SPECS;

const NAMES = Object.keys(SPECS) as FlagName[];

export function usage(): string {
  const lines = NAMES.map((name) => {
    const spec: FlagSpec = SPECS[name];
    const left = `  --${name} ${spec.valueName}`;
    const def = spec.default === undefined ? '' : ` (default ${spec.default})`;
    return `${left.padEnd(28)}${spec.help}${def}  [$${spec.env}]`;
  });
  return [
    'Usage: dns-tuner serve [flags]   (the container: node dist/main.js [flags])',
    '',
    'Kubernetes mutating admission webhook that tunes Pod DNS from namespace policies.',
    '',
    'Flags (a flag wins over its environment variable; a repeated flag takes its last value):',
    ...lines,
    `  ${'--help'.padEnd(26)}show this help`,
  ].join('\n');
}

/** `argv` without the node binary and script (process.argv.slice(2)). */
export function parseFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): FlagsParse {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(NAMES.map((name) => [name, { type: 'string' as const }]));
    ({ values } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { ok: false, error: describeParseArgsError(error), exitCode: USAGE_EXIT_CODE };
  }
  if (values.help === true) return { ok: true, help: true };

  const out: Record<string, unknown> = {};
  const origins: Partial<Record<keyof Flags, FlagOrigin>> = {};
  for (const name of NAMES) {
    const spec: FlagSpec = SPECS[name];
    const fromFlag = values[name];
    const fromEnv = env[spec.env];
    let raw: string | undefined;
    let label: string;
    let origin: FlagOrigin;
    if (typeof fromFlag === 'string') {
      raw = fromFlag;
      label = `--${name}`;
      origin = 'flag';
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw = fromEnv;
      label = spec.env;
      origin = 'env';
    } else {
      raw = spec.default;
      label = `--${name}`;
      origin = 'default';
    }
    if (raw === undefined) continue;
    const result = spec.schema.safeParse(raw);
    if (!result.success) {
      const error = `${label}: ${JSON.stringify(raw)} is not ${spec.expected}`;
      return { ok: false, error, exitCode: USAGE_EXIT_CODE };
    }
    out[spec.key] = result.data;
    origins[spec.key] = origin;
  }
  return { ok: true, help: false, flags: out as unknown as Flags, origins };
}

function describeParseArgsError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const message = String(e.message ?? error);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      // Node's message suggests `--` for values starting with a dash, which dns-tuner never takes.
      const flag = /'([^']+)'/.exec(message)?.[1] ?? message;
      return `unknown flag ${flag} (see --help)`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /--([a-z-]+)/.exec(message)?.[0];
      return flag ? `${flag}: needs a value` : message;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /'([^']+)'/.exec(message)?.[1] ?? message;
      return `unexpected argument ${JSON.stringify(arg)} (flags take the form --name VALUE; see --help)`;
    }
    default:
      return message;
  }
}
