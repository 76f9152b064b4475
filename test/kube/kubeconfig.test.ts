/**
 * @kubernetes/client-node is loaded when a kubeconfig is, not when the modules that may load one are imported
 * (docs/adr/0007-own-list-watch.md: importing it costs ~60 MiB of RSS). The loading order and error messages
 * themselves are tested in test/namespaces/cluster-source.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { spawnNode } from '../../lab/process.ts';

describe('kubeconfig loading', () => {
  it('imports @kubernetes/client-node only when a kubeconfig is loaded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-lazy-'));
    try {
      const file = join(dir, 'kubeconfig');
      await writeFile(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: 'https://lazy.example:6443' } }],
          users: [{ name: 'u', user: { token: 't' } }],
          contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'c',
        }),
      );
      const script = fileURLToPath(new URL('./client-node-import-child.ts', import.meta.url));
      const run = spawnNode(script, [file], { killAfterMs: 20_000 });
      const { code } = await run.exit;
      expect({ code, stderr: run.stderr() }).toEqual({ code: 0, stderr: '' });
      const report = JSON.parse(run.stdout()) as { afterImport: boolean; afterLoad: boolean; server: string };
      expect(report).toMatchObject({ afterImport: false, afterLoad: true, server: 'https://lazy.example:6443' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
