/**
 * Reads the policy configuration file (YAML) and validates it with src/config/schema.ts. Errors point into the file:
 * `examples/config.yaml:12:13: policies.default.ndots: Too big: expected number to be <=15, got 20`.
 * Without a file the built-in configuration applies (`parseConfig({})`: the `default` policy only).
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { showValue } from '../admission/review.ts';
import type { Config } from '../core/types.ts';
import { configSchema, parseConfig } from './schema.ts';

export type ConfigTextParse = { ok: true; config: Config } | { ok: false; error: string };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function builtInConfig(): Config {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new ConfigError(`built-in configuration is invalid: ${parsed.error}`);
  return parsed.config;
}

/** Validates the text of a config file; `fileName` labels the errors. */
export function parseConfigText(text: string, fileName: string): ConfigTextParse {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return fileName;
    const { line, col } = lineCounter.linePos(offset);
    return `${fileName}:${line}:${col}`;
  };
  const syntax = doc.errors[0];
  if (syntax) return { ok: false, error: `${at(syntax.pos[0])}: YAML syntax error: ${syntax.message.split('\n')[0]}` };

  const value: unknown = doc.toJS();
  const parsed = parseConfig(value);
  if (parsed.ok) return parsed;

  // Same schema again for the structured issues, so each one can point at its line and show the value found.
  const detailed = configSchema.safeParse(value ?? {});
  if (detailed.success) return { ok: false, error: `${fileName}: ${parsed.error}` };
  const problems = detailed.error.issues.map((issue) => {
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

/** Reads and validates `path`; no path → the built-in configuration. Throws ConfigError naming file, field, value. */
export async function loadConfig(path: string | undefined): Promise<Config> {
  if (path === undefined) return builtInConfig();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`config file ${path}: ${code === 'ENOENT' ? 'not found' : String(error)}`);
  }
  const parsed = parseConfigText(text, path);
  if (!parsed.ok) throw new ConfigError(`invalid config ${parsed.error}`);
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
