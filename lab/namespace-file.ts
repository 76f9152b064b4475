/**
 * A large offline object file as `kubectl get ns -o yaml` prints it, and a child process that loads one with the
 * built dist/ under given Node flags: shared by the test that loads 10,000 namespaces within the Deployment's heap
 * (test/namespaces/large-file.test.ts) and the benchmark that measures it (bench/namespace-file.ts).
 */
import { join } from 'node:path';
import { ROOT } from './paths.ts';

/** The child script (./namespace-file-load.ts). */
export const NAMESPACE_FILE_LOAD = join(ROOT, 'lab', 'namespace-file-load.ts');

/** What the child prints: how many namespaces the file held, and its peak RSS. */
export interface NamespaceFileLoad {
  size: number;
  peakRssBytes: number;
}

/**
 * `kubectl get ns -o yaml` for `count` namespaces as kubectl prints them: labels (dns-tuner.io/policy on most), a few
 * annotations including kubectl's last-applied-configuration, managedFields of two managers, spec and status; kubectl's
 * key order (`items` before `kind`). ~1.2 KB a namespace.
 */
export function kubectlNamespaceList(count: number): string {
  const items: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `team-${String(i).padStart(6, '0')}`;
    const policy = i % 20 === 0 ? '' : `      dns-tuner.io/policy: ${i % 20 === 1 ? 'options-only' : 'default'}\n`;
    const ndots = i % 10 === 3 ? '      dns-tuner.io/ndots: "2"\n' : '';
    items.push(`- apiVersion: v1
  kind: Namespace
  metadata:
    annotations:
${ndots}      example.com/owner: owner-${i % 1000}@example.com
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"v1","kind":"Namespace","metadata":{"annotations":{},"labels":{"dns-tuner.io/policy":"default","team":"team-${i % 250}"},"name":"${name}"}}
    creationTimestamp: "2026-01-15T10:00:00Z"
    labels:
${policy}      environment: ${i % 3 === 0 ? 'production' : 'staging'}
      kubernetes.io/metadata.name: ${name}
      team: team-${i % 250}
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
            f:team: {}
      manager: kubectl-client-side-apply
      operation: Update
      time: "2026-01-15T10:00:00Z"
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:annotations:
            f:example.com/owner: {}
      manager: kubectl-annotate
      operation: Update
      time: "2026-02-01T08:30:00Z"
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
