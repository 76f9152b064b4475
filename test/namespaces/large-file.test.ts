/**
 * Issue 12: a 10,000-namespace offline file loads within the Deployment's heap. The file is what `kubectl get ns -o
 * yaml` prints (12 MB); the built dist/ loads it in a child process with the Deployment's NODE_OPTIONS, read from
 * manifests/base/deployment.yaml. One syntax tree of it takes ~170 MiB of heap (its CST ~320 MiB) and runs out;
 * src/yaml/list-stream.ts reads it entry by entry (bench/namespace-file.ts measures both).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentNodeOptions } from '../../lab/deployment.ts';
import { kubectlNamespaceList, NAMESPACE_FILE_LOAD, type NamespaceFileLoad } from '../../lab/namespace-file.ts';
import { ROOT } from '../../lab/paths.ts';
import { isolatedEnv, requireBuilt, spawnNode } from '../../lab/process.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-large-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a 10,000-namespace offline file', () => {
  it("loads within the Deployment's heap (kubectl get ns -o yaml, built dist/, the Deployment's NODE_OPTIONS)", async () => {
    requireBuilt(join(ROOT, 'dist', 'namespaces', 'file-source.js'));
    const file = join(dir, 'namespaces.yaml');
    const text = kubectlNamespaceList(10_000);
    expect(text.length).toBeGreaterThan(10 * 1024 * 1024);
    await writeFile(file, text);
    const nodeOptions = deploymentNodeOptions();
    expect(nodeOptions).toMatch(/--max-old-space-size=\d+/);
    const run = spawnNode(NAMESPACE_FILE_LOAD, [file], {
      env: isolatedEnv({ NODE_OPTIONS: nodeOptions }),
      killAfterMs: 100_000,
    });
    const { code, signal } = await run.exit;
    expect({ code, signal, stderr: run.stderr().slice(-600) }).toEqual({ code: 0, signal: null, stderr: '' });
    const load = JSON.parse(run.stdout()) as NamespaceFileLoad;
    expect(load.size).toBe(10_000);
  }, 120_000);
});
