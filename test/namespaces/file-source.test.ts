import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentNodeOptions } from '../../lab/deployment.ts';
import { EXAMPLE_NAMESPACES } from '../../lab/paths.ts';
import { spawnNode } from '../../lab/process.ts';
import { createFileNamespaceSource, parseNamespaceFile } from '../../src/namespaces/file-source.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-ns-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const namesOf = (text: string) => {
  const parsed = parseNamespaceFile(text, 'ns.yaml');
  if (!parsed.ok) throw new Error(parsed.error);
  return [...parsed.namespaces.keys()];
};
const errorOf = (text: string) => {
  const parsed = parseNamespaceFile(text, 'ns.yaml');
  if (parsed.ok) throw new Error('expected an error');
  return parsed.error;
};

describe('parseNamespaceFile', () => {
  it('reads a List (kubectl get ns -o yaml), a multi-document stream and a plain sequence alike', () => {
    expect(namesOf('apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\n')).toEqual([
      'a',
      'b',
    ]);
    expect(namesOf('kind: NamespaceList\napiVersion: v1\nitems: []\n')).toEqual([]);
    expect(namesOf('apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nmetadata: {name: b}\n---\n')).toEqual([
      'a',
      'b',
    ]);
    expect(namesOf('- metadata: {name: a}\n- metadata: {name: b}\n')).toEqual(['a', 'b']);
  });

  it('keeps only dns-tuner.io/* labels and annotations', () => {
    const parsed = parseNamespaceFile(
      'metadata:\n  name: shop\n  labels: {dns-tuner.io/policy: default, team: web}\n  annotations: {dns-tuner.io/mode: dry-run, owner: me}\n',
      'ns.yaml',
    );
    expect(parsed.ok && parsed.namespaces.get('shop')).toEqual({
      name: 'shop',
      labels: { 'dns-tuner.io/policy': 'default' },
      annotations: { 'dns-tuner.io/mode': 'dry-run' },
    });
  });

  it.each([
    [
      '- metadata: {name: a, labels: {dns-tuner.io/policy: 3}}\n',
      'ns.yaml:1:3: item 1 (a): metadata.labels.dns-tuner.io/policy: must be a string, got 3',
    ],
    [
      '- metadata: {name: a}\n- metadata: {name: Shop_1}\n',
      'ns.yaml:2:3: item 2 (Shop_1): metadata.name: "Shop_1" is not a DNS label (RFC 1123)',
    ],
    ['- kind: Pod\n  metadata: {name: a}\n', 'ns.yaml:1:3: item 1 (a): kind: must be "Namespace", got "Pod"'],
    ['- metadata: {labels: {}}\n', 'ns.yaml:1:3: item 1: metadata.name: is required'],
    ['- metadata: {name: a}\n- metadata: {name: a}\n', 'ns.yaml:2:3: item 2 (a): namespace "a" is listed twice'],
    ['- just-a-string\n', 'ns.yaml:1:3: item 1: must be a Namespace object, got "just-a-string"'],
  ])('%j → %s', (text, message) => {
    expect(errorOf(text)).toBe(message);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(errorOf('- metadata:\n    name: a\n  labels: [\n')).toMatch(/^ns\.yaml:4:1: YAML syntax error: /);
  });

  it('reports an alias to no anchor as an error naming the file and the line, not a throw', () => {
    expect(errorOf('- metadata: {name: a}\n---\n- metadata: {name: b, labels: *labels}\n')).toBe(
      'ns.yaml:3:31: YAML error: Unresolved alias (the anchor must be set before the alias): labels',
    );
  });
});

describe('createFileNamespaceSource', () => {
  it('is not ready until started, then answers found / not found', async () => {
    const source = createFileNamespaceSource(EXAMPLE_NAMESPACES);
    expect(source.status()).toMatchObject({ ready: false });
    expect(await source.lookup('shop')).toMatchObject({ found: false, error: expect.stringContaining('not loaded') });
    expect(source.cached?.('shop')).toBeUndefined();
    await source.start();
    expect(source.status()).toEqual({ ready: true, size: 5 });
    expect(await source.lookup('shop')).toEqual({
      found: true,
      namespace: { name: 'shop', labels: { 'dns-tuner.io/policy': 'default' }, annotations: {} },
    });
    expect(await source.lookup('nowhere')).toEqual({ found: false });
    // The file is in memory: every answer is at hand.
    expect(source.cached?.('shop')).toEqual(await source.lookup('shop'));
    expect(source.cached?.('nowhere')).toEqual({ found: false });
    await source.stop();
  });

  it('refuses to start on a missing or invalid file, naming it', async () => {
    const missing = join(dir, 'missing.yaml');
    await expect(createFileNamespaceSource(missing).start()).rejects.toThrow(`namespace file ${missing}: not found`);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, '- metadata: {name: UPPER}\n');
    await expect(createFileNamespaceSource(bad).start()).rejects.toThrow(`namespace file ${bad}:1:3: item 1 (UPPER)`);
  });
});

/** `kubectl get ns -o yaml` for `count` namespaces, as kubectl prints them (last-applied, managedFields, status). */
function kubectlListYaml(count: number): string {
  const items: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `team-${String(i).padStart(6, '0')}`;
    items.push(`- apiVersion: v1
  kind: Namespace
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"v1","kind":"Namespace","metadata":{"annotations":{},"labels":{"dns-tuner.io/policy":"default"},"name":"${name}"}}
    creationTimestamp: "2025-01-15T10:00:00Z"
    labels:
      dns-tuner.io/policy: default
      kubernetes.io/metadata.name: ${name}
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:annotations:
            .: {}
            f:kubectl.kubernetes.io/last-applied-configuration: {}
          f:labels:
            .: {}
            f:dns-tuner.io/policy: {}
            f:kubernetes.io/metadata.name: {}
      manager: kubectl-client-side-apply
      operation: Update
      time: "2025-01-15T10:00:00Z"
    name: ${name}
    resourceVersion: "${1000 + i}"
    uid: 0b7f9c2e-1d3a-4c5b-9e8f-${String(i).padStart(12, '0')}
  spec:
    finalizers:
    - kubernetes
  status:
    phase: Active
`);
  }
  return `apiVersion: v1\nitems:\n${items.join('')}kind: List\nmetadata:\n  resourceVersion: ""\n`;
}

describe('a large namespace file', () => {
  it("of 10,000 namespaces (kubectl get ns -o yaml, 12 MB) loads with the Deployment's Node flags (192 MiB heap)", async () => {
    const file = join(dir, 'namespaces-10k.yaml');
    await writeFile(file, kubectlListYaml(10_000));
    const script = fileURLToPath(new URL('../support/namespace-file-child.ts', import.meta.url));
    const run = spawnNode(script, [file], {
      env: { ...process.env, NODE_OPTIONS: deploymentNodeOptions() },
      killAfterMs: 60_000,
    });
    const { code } = await run.exit;
    expect({ code, stderr: run.stderr().slice(0, 500) }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout())).toMatchObject({ size: 10_000 });
  }, 90_000);
});
