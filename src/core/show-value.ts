/**
 * A value as every error message and warning of the product shows it: its JSON, short. A string is cut inside its
 * quotes (`"abcdefghij…"`), anything else after its JSON; `missing` for undefined. Never throws: a 10k-deep array (a
 * 20 KB body) makes JSON.stringify throw, and String() is no fallback for containers.
 */
export function showValue(value: unknown, max = 60): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'string') return JSON.stringify(value.length > max ? `${value.slice(0, max - 1)}…` : value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? '[…]' : typeof value === 'object' && value !== null ? '{…}' : String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
