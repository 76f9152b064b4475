/**
 * Admission warnings should stay within 120 characters to reach the client whole (admission/v1
 * AdmissionResponse.warnings: longer ones may be cut). Counted in UTF-16 units, which also bounds the characters,
 * and never cut inside a surrogate pair.
 */
export const MAX_WARNING_CHARS = 120;

export function truncateWarning(warning: string): string {
  if (warning.length <= MAX_WARNING_CHARS) return warning;
  let cut = MAX_WARNING_CHARS - 1;
  const last = warning.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${warning.slice(0, cut)}…`;
}
