/** Reloads through the real file watcher: a bad edit (an emptied file included) keeps the last good configuration. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigReload, removedPolicies, watchConfig } from '../../src/config/watch.ts';
import { configFrom } from '../support/engine.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-config-watch-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const GOOD = 'clusterDNS: 10.96.0.10\nnodeLocalDNS: 169.254.20.10\npolicies:\n  strict: {ndots: 1}\n';

describe('watchConfig', () => {
  it('refuses an emptied file on reload: the last good configuration stays and the reload says why', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, GOOD);
    const reloads: ConfigReload[] = [];
    const watcher = await watchConfig(file, { pollIntervalMs: 50, onReload: (r) => reloads.push(r) });
    try {
      const good = watcher.current();
      expect(Object.keys(good.policies)).toEqual(['default', 'strict']);
      for (const text of ['', '---\n', '# gone\n']) {
        const before = reloads.length;
        await writeFile(file, text);
        await expect.poll(() => reloads.length, { timeout: 5000, interval: 20 }).toBeGreaterThan(before);
        expect(reloads.at(-1)).toMatchObject({
          result: 'failed',
          path: file,
          error: `invalid config ${file}: the file has no content (empty, null or only comments); write {} for the built-in configuration`,
        });
        expect(watcher.current()).toBe(good);
      }
    } finally {
      watcher.close();
    }
  });

  it('refuses an empty file at start', async () => {
    const file = join(dir, 'empty.yaml');
    await writeFile(file, '');
    await expect(watchConfig(file)).rejects.toThrow(/the file has no content/);
  });
});

describe('removedPolicies', () => {
  it('names the policies a reload drops, in the old order', () => {
    const before = configFrom({ policies: { a: {}, b: {}, c: {} } });
    const after = configFrom({ policies: { b: {} } });
    expect(removedPolicies(before, after)).toEqual(['a', 'c']);
    expect(removedPolicies(after, before)).toEqual([]);
    // `default` always exists, so dropping its definition from the file removes nothing.
    expect(removedPolicies(configFrom({ policies: { default: { ndots: 1 } } }), configFrom({}))).toEqual([]);
  });
});
