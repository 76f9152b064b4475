/**
 * A unified diff of two short texts (a resolv.conf has a handful of lines), in the layout of `diff -u`: one hunk
 * with the whole file as context. Pure; a longest-common-subsequence table is plenty at this size.
 */

export function unifiedDiff(before: string, after: string, labels = { before: 'before', after: 'after' }): string {
  const a = lines(before);
  const b = lines(after);
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(` ${a[i]}`);
      i++;
      j++;
    } else if (j === b.length || (i < a.length && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      // On a tie the removal goes first, so a changed block reads `-old` then `+new`, as diff prints it.
      out.push(`-${a[i]}`);
      i++;
    } else {
      out.push(`+${b[j]}`);
      j++;
    }
  }
  const range = (n: number) => (n === 1 ? '1' : `${n === 0 ? 0 : 1},${n}`);
  return [`--- ${labels.before}`, `+++ ${labels.after}`, `@@ -${range(a.length)} +${range(b.length)} @@`, ...out]
    .join('\n')
    .concat('\n');
}

function lines(text: string): string[] {
  if (text === '') return [];
  return (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
}
