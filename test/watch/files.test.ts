/**
 * The file watcher behind config and certificate reloads, on real files: the directory watch alone (polling set to a
 * minute) catches a kubelet-style `..data` swap; polling alone (the directory does not exist yet, so there is nothing
 * to fs.watch) catches files that appear later; each distinct content is delivered once.
 */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../../lab/eventually.ts';
import { atomicVolume } from '../../lab/volume.ts';
import { type FileWatch, readSnapshot, type Snapshot, watchFiles } from '../../src/watch/files.ts';

let dir: string;
const watches: FileWatch[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-watch-'));
});

afterEach(async () => {
  for (const watch of watches.splice(0)) watch.close();
  await rm(dir, { recursive: true, force: true });
});

const text = (snapshot: Snapshot) => snapshot.map((f) => f.data?.toString() ?? `<${f.error}>`);

async function watch(paths: string[], pollIntervalMs: number) {
  const seen: string[][] = [];
  const w = watchFiles({
    paths,
    baseline: await readSnapshot(paths),
    pollIntervalMs,
    debounceMs: 50,
    onChange: (snapshot) => {
      seen.push(text(snapshot));
    },
  });
  watches.push(w);
  return seen;
}

describe('watchFiles', () => {
  it('sees a ..data symlink swap through the directory watch alone, once per content', async () => {
    const volume = await atomicVolume(join(dir, 'secret'), { 'tls.crt': 'cert-1', 'tls.key': 'key-1' });
    const seen = await watch([volume.path('tls.crt'), volume.path('tls.key')], 60_000);

    await volume.write({ 'tls.crt': 'cert-2', 'tls.key': 'key-2' });
    await eventually(() => expect(seen).toEqual([['cert-2', 'key-2']]), 5_000);

    // Same content written again: a swap happens, nothing new is delivered. Wait well past the debounce (50 ms) so the
    // watcher looks at this swap on its own, not merged with the next one.
    await volume.write({ 'tls.crt': 'cert-2', 'tls.key': 'key-2' });
    await sleep(300);
    expect(seen).toEqual([['cert-2', 'key-2']]);
    await volume.write({ 'tls.crt': 'cert-3', 'tls.key': 'key-3' });
    await eventually(
      () =>
        expect(seen).toEqual([
          ['cert-2', 'key-2'],
          ['cert-3', 'key-3'],
        ]),
      5_000,
    );
  });

  it('falls back to polling when there is nothing to fs.watch, and reports a file that went missing', async () => {
    const later = join(dir, 'not-yet');
    const path = join(later, 'config.yaml');
    const seen = await watch([path], 100);
    expect(seen).toEqual([]);

    await mkdir(later);
    await writeFile(path, 'mode: enforce\n');
    await eventually(() => expect(seen).toEqual([['mode: enforce\n']]), 5_000);

    await rm(path);
    await eventually(() => expect(seen).toEqual([['mode: enforce\n'], ['<ENOENT>']]), 5_000);
  });
});
