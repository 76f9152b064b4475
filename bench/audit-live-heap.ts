/**
 * Preloaded by bench/audit.ts into one extra, untimed run of the audit (`node --expose-gc --import
 * bench/audit-live-heap.ts …`): a full GC every 100 ms and at exit, each followed by a look at the heap in use. The
 * largest is the live heap's high-water mark — what the run holds at once (verdicts, tallies, the page in hand) —
 * where peak RSS also counts garbage V8 had not collected yet.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench/audit-live-heap.ts needs node --expose-gc');
let most = 0;
const sample = () => {
  gc();
  most = Math.max(most, process.memoryUsage().heapUsed);
};
setInterval(sample, 100).unref();
process.on('exit', () => {
  sample();
  process.stderr.write(`live-heap-max-bytes=${most}\n`);
});
