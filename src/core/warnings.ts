/**
 * Admission warnings should stay within 120 characters to reach the client whole (admission/v1
 * AdmissionResponse.warnings: longer ones may be cut). Counted in UTF-16 units, which also bounds the characters,
 * and never cut inside a surrogate pair.
 *
 * A review carries at most MAX_WARNINGS of them: one per bad option token made an 8.3 MB response out of a 200 KB
 * annotation, and the apiserver keeps only a few KB of warnings anyway.
 */
export const MAX_WARNING_CHARS = 120;

/** Warnings per review, the final "… and N more" included: at most ~2.4 KB. */
export const MAX_WARNINGS = 20;

/** `text` cut to at most `max` UTF-16 units, the last one `…`, never inside a surrogate pair. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}

export function truncateWarning(warning: string): string {
  return truncateText(warning, MAX_WARNING_CHARS);
}

function moreLine(count: number): string {
  return `dns-tuner: … and ${count} more warning${count === 1 ? '' : 's'}`;
}

/**
 * A review's warnings as they are found: each truncated, duplicates dropped, at most MAX_WARNINGS kept. Past that
 * only a count grows, so memory and output stay bounded however many problems the input holds.
 */
export class WarningList {
  readonly #kept: string[] = [];
  readonly #seen = new Set<string>();
  #more = 0;

  add(warning: string): void {
    const line = truncateWarning(warning);
    if (this.#seen.has(line)) return;
    if (this.#kept.length < MAX_WARNINGS) {
      this.#seen.add(line);
      this.#kept.push(line);
    } else this.#more++;
  }

  /**
   * The warnings in the order found, after `lead` (e.g. the dry-run line, which must come first); past the cap, the
   * last slot says how many more there were.
   */
  list(lead: readonly string[] = []): string[] {
    const all = new WarningList();
    for (const warning of lead) all.add(warning);
    for (const warning of this.#kept) all.add(warning);
    const more = all.#more + this.#more;
    if (more === 0) return [...all.#kept];
    return [...all.#kept.slice(0, MAX_WARNINGS - 1), moreLine(more + 1)];
  }
}

/** Any list of warnings, bounded the same way (for warnings put together outside the engine). */
export function boundWarnings(warnings: Iterable<string>): string[] {
  const list = new WarningList();
  for (const warning of warnings) list.add(warning);
  return list.list();
}
