/**
 * The resolv.conf `options` grammar dns-tuner accepts, from glibc's resolv/res_init.c (the superset of what
 * musl and Go read). The apiserver validates only that an option has a name — never its value
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/validation/validation.go, validatePodDNSConfig) —
 * so this module is the only thing standing between a typo and a pod whose resolver silently reads `ndots:abc` as 0.
 */

export interface ResolverOption {
  name: string;
  /** Absent for flag options such as `rotate`. */
  value?: string;
}

/** Options that take a numeric value, with the range glibc honours (it clamps silently beyond it). */
export const NUMERIC_OPTIONS = {
  ndots: { min: 0, max: 15 },
  timeout: { min: 1, max: 30 },
  attempts: { min: 1, max: 5 },
} as const satisfies Record<string, { min: number; max: number }>;

/** Flag options glibc knows (res_init.c `options[]`). */
export const FLAG_OPTIONS = [
  'rotate',
  'no-check-names',
  'inet6',
  'ip6-bytestring',
  'ip6-dotint',
  'no-ip6-dotint',
  'edns0',
  'single-request',
  'single-request-reopen',
  'no-tld-query',
  'use-vc',
  'no-reload',
  'trust-ad',
  'no-aaaa',
] as const;

/** Options musl reads; everything else is ignored by Alpine images (musl src/network/resolvconf.c; docs/resolver-behaviour.md). */
export const MUSL_OPTIONS: ReadonlySet<string> = new Set(['ndots', 'timeout', 'attempts']);

const FLAGS: ReadonlySet<string> = new Set(FLAG_OPTIONS);

/** Every option name glibc reads. */
export const KNOWN_OPTIONS: ReadonlySet<string> = new Set([...Object.keys(NUMERIC_OPTIONS), ...FLAG_OPTIONS]);

export type OptionParse = { ok: true; option: ResolverOption } | { ok: false; error: string };

/** Parses and validates one `name` or `name:value` token. */
export function parseOption(token: string): OptionParse {
  const text = token.trim();
  const colon = text.indexOf(':');
  const name = colon === -1 ? text : text.slice(0, colon);
  const value = colon === -1 ? undefined : text.slice(colon + 1);
  return validateOption(value === undefined ? { name } : { name, value });
}

/** Validates an option already split into name and value (as in a pod's `dnsConfig.options`). */
export function validateOption(option: ResolverOption): OptionParse {
  const { name, value } = option;
  if (name === '') return { ok: false, error: 'empty option name' };
  if (Object.hasOwn(NUMERIC_OPTIONS, name)) {
    const range = NUMERIC_OPTIONS[name as keyof typeof NUMERIC_OPTIONS];
    if (value === undefined || !/^\d{1,2}$/.test(value)) {
      return { ok: false, error: `${name} needs a whole number ${range.min}-${range.max}` };
    }
    const n = Number(value);
    if (n < range.min || n > range.max) return { ok: false, error: `${name} must be ${range.min}-${range.max}` };
    return { ok: true, option: { name, value: String(n) } };
  }
  if (FLAGS.has(name)) {
    if (value !== undefined) return { ok: false, error: `${name} takes no value` };
    return { ok: true, option: { name } };
  }
  return { ok: false, error: `unknown option "${name}"` };
}

/**
 * How glibc reads a number in resolv.conf: atoi (leading digits; anything else is 0), clamped (res_init.c). An author's
 * `ndots: "abc"` is 0 there and `"1e3"` is 1, not NaN or 1000.
 */
export function glibcNumber(value: string | undefined, max: number): number {
  const match = /^\s*\+?(\d+)/.exec(value ?? '');
  return Math.min(match ? Number(match[1]) : 0, max);
}

export function formatOption(option: ResolverOption): string {
  return option.value === undefined ? option.name : `${option.name}:${option.value}`;
}
