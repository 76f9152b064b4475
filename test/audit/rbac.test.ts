/**
 * manifests/audit/clusterrole.yaml is what `dns-tuner audit` needs, no more: a valid, read-only ClusterRole (the
 * manifest tests' strict validator), enough for a complete audit when the fake API refuses everything it does not
 * grant, and every permission it grants is one the audit uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { clusterBuilder } from '../../lab/audit-cluster.ts';
import {
  type FakeKubeApi,
  RESOURCES,
  type RequestKind,
  type Resource,
  startFakeKubeApi,
} from '../../lab/fake-kube-api.ts';
import { EXAMPLE_CONFIG, ROOT } from '../../lab/paths.ts';
import type { AuditReport } from '../../src/audit/report.ts';
import { runAudit } from '../../src/cli/audit.ts';
import { type KubeObject, validateObject } from '../manifests/render.ts';
import { exampleConfig } from '../support/engine.ts';
import { buildScenario, OPTED_IN } from './scenario.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const FILE = join(ROOT, 'manifests', 'audit', 'clusterrole.yaml');
const docs = parseAllDocuments(readFileSync(FILE, 'utf8')).map((d) => d.toJS() as KubeObject);
const role = docs[0] as KubeObject & { rules: Rule[] };

/** `verb resource` for every permission the role grants, in the fake API's request words. */
function granted(): Set<string> {
  const out = new Set<string>();
  for (const rule of role.rules) {
    for (const resource of rule.resources) {
      const type = RESOURCES[resource as Resource];
      // A rule for the wrong group grants nothing the audit asks for.
      if (type === undefined || !rule.apiGroups.includes(type.group)) continue;
      for (const verb of rule.verbs) out.add(`${verb} ${resource}`);
    }
  }
  return out;
}

let api: FakeKubeApi;

async function audit(args: string[]): Promise<{ code: number; report: AuditReport }> {
  let stdout = '';
  const sink = (write: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        write(chunk.toString());
        done();
      },
    });
  const code = await runAudit(
    ['--kubeconfig', api.kubeconfigPath, '--config', EXAMPLE_CONFIG, '-o', 'json', ...args],
    { stdout: sink((t) => (stdout += t)), stderr: sink(() => {}) },
    {},
  );
  return { code, report: JSON.parse(stdout) as AuditReport };
}

beforeAll(async () => {
  api = await startFakeKubeApi();
  buildScenario(api);
  // Pods whose owners are gone (their ownerReferences dangle until the garbage collector is done): the audit asks
  // for each owner by name, which is what `get` on the owner kinds is for.
  const b = clusterBuilder(api, { config: exampleConfig() });
  b.namespace('orphans', OPTED_IN);
  const owners: Array<[apiVersion: string, kind: string]> = [
    ['apps/v1', 'StatefulSet'],
    ['apps/v1', 'DaemonSet'],
    ['apps/v1', 'ReplicaSet'],
    ['batch/v1', 'Job'],
  ];
  for (const [apiVersion, kind] of owners) {
    b.ownedPod('orphans', `${kind.toLowerCase()}-pod`, { apiVersion, kind, name: 'gone' }, {}, 'created');
  }
  api.createObject('replicasets', {
    metadata: {
      name: 'of-gone-deployment',
      namespace: 'orphans',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gone', uid: 'x', controller: true }],
    },
    spec: {
      template: { metadata: {}, spec: { containers: [{ name: 'app', image: 'app' }], dnsPolicy: 'ClusterFirst' } },
    },
  });
  b.ownedPod(
    'orphans',
    'deployment-pod',
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'of-gone-deployment' },
    {},
    'created',
  );
  api.createObject('jobs', {
    metadata: {
      name: 'of-gone-cronjob',
      namespace: 'orphans',
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'gone', uid: 'y', controller: true }],
    },
    spec: {
      template: { metadata: {}, spec: { containers: [{ name: 'app', image: 'app' }], dnsPolicy: 'ClusterFirst' } },
    },
  });
  b.ownedPod('orphans', 'cronjob-pod', { apiVersion: 'batch/v1', kind: 'Job', name: 'of-gone-cronjob' }, {}, 'created');
});

afterAll(async () => {
  await api?.close();
});

describe('manifests/audit/clusterrole.yaml', () => {
  it('is one valid ClusterRole that only reads', () => {
    expect(docs).toHaveLength(1);
    expect(role.kind).toBe('ClusterRole');
    expect(validateObject(role)).toEqual([]);
    const verbs = new Set(role.rules.flatMap((r) => r.verbs));
    expect([...verbs].sort()).toEqual(['get', 'list']);
  });

  it('is enough: with everything else refused, the audit is complete and the same', async () => {
    const full = await audit(['-A']);
    const allowed = granted();
    for (const resource of Object.keys(RESOURCES) as Resource[]) {
      for (const verb of ['get', 'list', 'watch'] as RequestKind[]) {
        if (!allowed.has(`${verb} ${resource}`)) api.deny({ resource, verb });
      }
    }
    try {
      const before = api.requests.length;
      const limited = await audit(['-A']);
      expect(limited.report.problems).toEqual([]);
      expect(limited.report).toEqual(full.report);
      const named = await audit(['-n', 'shop,orphans']);
      expect(named.report.problems).toEqual([]);
      expect(named.code).toBe(3);
      // …and needed: every permission granted was used.
      const used = new Set(api.requests.slice(before).map((q) => `${q.kind} ${q.resource}`));
      expect([...used].sort()).toEqual([...allowed].sort());
    } finally {
      api.allowAll();
    }
  });

  it('says why pods of a gone owner are compared with themselves', async () => {
    const { report } = await audit(['-n', 'orphans']);
    const notes = Object.fromEntries(report.workloads!.map((w) => [w.workload, w.notes]));
    expect(notes).toEqual({
      'cronjob/gone': ["CronJob gone no longer exists: compared with its Job's template"],
      'daemonset/gone': ['DaemonSet gone no longer exists: compared with the pod itself'],
      'deployment/gone': ["Deployment gone no longer exists: compared with its ReplicaSet's template"],
      'job/gone': ['Job gone no longer exists: compared with the pod itself'],
      'replicaset/gone': ['ReplicaSet gone no longer exists: compared with the pod itself'],
      'statefulset/gone': ['StatefulSet gone no longer exists: compared with the pod itself'],
    });
  });
});
