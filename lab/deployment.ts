/** What the Deployment (manifests/base/deployment.yaml) runs with, for the tests and benchmarks that run the same. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './paths.ts';

/** NODE_OPTIONS of the dns-tuner container. */
export function deploymentNodeOptions(): string {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'manifests', 'base', 'deployment.yaml'), 'utf8'));
  const deployment = docs.map((d) => d.toJS() as { kind?: unknown }).find((d) => d.kind === 'Deployment') as {
    spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
  };
  const env = deployment.spec.template.spec.containers[0]?.env ?? [];
  const value = env.find((e) => e.name === 'NODE_OPTIONS')?.value;
  if (!value) throw new Error('manifests/base/deployment.yaml: no NODE_OPTIONS on the container');
  return value;
}
