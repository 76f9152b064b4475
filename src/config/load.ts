/**
 * Reads the policy configuration file (YAML) and validates it with src/config/schema.ts. Errors point into the file:
 * `examples/config.yaml:12:13: policies.default.ndots: Too big: expected number to be <=15, got 20`.
 * Without a file the built-in configuration applies (`parseConfig({})`: the `default` policy only). A file WITH no
 * content (empty, `null`, `~`, `---`, only comments) is refused: a ConfigMap emptied by a bad edit or a half-written
 * template must not silently reset every policy, node-local and the fallback cluster-wide. `{}` asks for the
 * built-in configuration explicitly.
 */
import { LineCounter, parseDocument } from 'yaml';
import { showValue } from '../core/show-value.ts';
import type { Config } from '../core/types.ts';
import { DnsTunerError } from '../errors.ts';
import { describeReadError, type FileContent, readSnapshot } from '../watch/files.ts';
import { documentValue, locator, PARSE_OPTIONS } from '../yaml/locate.ts';
import { type ConfigParse, configSchema, parseConfig } from './schema.ts';

/** A config file that cannot be read or does not validate (DNS_TUNER_BAD_CONFIG). */
export class ConfigError extends DnsTunerError {
  constructor(message: string) {
    super('DNS_TUNER_BAD_CONFIG', message);
    this.name = 'ConfigError';
  }
}

export function builtInConfig(): Config {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new ConfigError(`built-in configuration is invalid: ${parsed.error}`);
  return parsed.config;
}

/** Validates the text of a config file; `fileName` labels the errors. */
export function parseConfigText(text: string, fileName: string): ConfigParse {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, ...PARSE_OPTIONS });
  const at = locator(fileName, lineCounter);
  const read = documentValue(doc, at);
  if (!read.ok) return read;
  const { value } = read;
  if (value === null || value === undefined) {
    return {
      ok: false,
      error: `${at(undefined)}: the file has no content (empty, null or only comments); write {} for the built-in configuration`,
    };
  }

  // The schema itself (not parseConfig), for the structured issues: each one points at its line and shows the value.
  const parsed = configSchema.safeParse(value);
  if (parsed.success) return { ok: true, config: parsed.data };
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    const offset = node?.range?.[0];
    const found = valueAt(value, path);
    const got =
      issue.code !== 'unrecognized_keys' && found !== undefined && !issue.message.includes(showValue(found))
        ? `, got ${showValue(found)}`
        : '';
    return { offset, text: `${at(offset)}: ${fieldMessage(path, issue.message)}${got}` };
  });
  // In file order, so the list reads top to bottom like the file.
  problems.sort((a, b) => (a.offset ?? Number.MAX_SAFE_INTEGER) - (b.offset ?? Number.MAX_SAFE_INTEGER));
  const lines = problems.map((p) => p.text);
  return { ok: false, error: lines.join('\n') };
}

/** A policy file is a few KB (examples/config.yaml: 4 KB); anything near this is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 64 * 1024;

/**
 * The config file as read by `readSnapshot` → the configuration, or why not: `config file PATH: not found`, or
 * `invalid config PATH:line:col: field: message, got value` (one line per problem). The start-up load and every
 * reload go through here.
 */
export function configFromFile(file: FileContent | undefined, path: string): ConfigParse {
  if (!file?.data) return { ok: false, error: `config file ${path}: ${describeReadError(file?.error)}` };
  // Checked before parsing: YAML's cost follows its shape, not its size (700 KB of flow mappings need ~260 MB of heap,
  // more than the Deployment gives the process), and a config reload runs on the thread that answers reviews.
  if (file.data.length > MAX_CONFIG_BYTES) {
    const error = `config file ${path} is ${file.data.length} bytes; the limit is ${MAX_CONFIG_BYTES} (policies take a few KB)`;
    return { ok: false, error };
  }
  const parsed = parseConfigText(file.data.toString('utf8'), path);
  return parsed.ok ? parsed : { ok: false, error: `invalid config ${parsed.error}` };
}

/** Reads and validates `path`; no path → the built-in configuration. Throws ConfigError naming file, field, value. */
export async function loadConfig(path: string | undefined): Promise<Config> {
  if (path === undefined) return builtInConfig();
  const [file] = await readSnapshot([path]);
  const parsed = configFromFile(file, path);
  if (!parsed.ok) throw new ConfigError(parsed.error);
  return parsed.config;
}

/** `policies.default.ndots: message`, without repeating the key when the schema's message already starts with it. */
function fieldMessage(path: ReadonlyArray<string | number>, message: string): string {
  if (path.length === 0) return message;
  const last = String(path[path.length - 1]);
  if (message.startsWith(`${last}:`)) {
    const parent = path.slice(0, -1).join('.');
    return parent === '' ? message : `${parent}.${message}`;
  }
  return `${path.join('.')}: ${message}`;
}

function valueAt(root: unknown, path: ReadonlyArray<string | number>): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
