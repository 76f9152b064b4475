/** Builds engine inputs the way the HTTP edge does: raw pod kept, view parsed, config from the shipped example. */
import { readFileSync } from 'node:fs';
import jsonpatch from 'fast-json-patch';
import { parse } from 'yaml';
import { EXAMPLE_CONFIG } from '../../lab/paths.ts';
import { parseConfig } from '../../src/config/schema.ts';
import { type DecideInput, decide } from '../../src/core/decide.ts';
import { type Config, type Decision, LABEL_POLICY, type NamespaceInfo } from '../../src/core/types.ts';
import { parsePodView } from '../../src/kube/pod.ts';

export function exampleConfig(): Config {
  return configFrom(parse(readFileSync(EXAMPLE_CONFIG, 'utf8')));
}

export function configFrom(doc: unknown): Config {
  const parsed = parseConfig(doc);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.config;
}

export function namespace(
  name: string,
  policy: string | undefined,
  annotations: Record<string, string> = {},
): NamespaceInfo {
  return { name, labels: policy === undefined ? {} : { [LABEL_POLICY]: policy }, annotations };
}

export function run(
  config: Config,
  raw: Record<string, unknown>,
  ns: NamespaceInfo | undefined,
  extra: Partial<DecideInput> = {},
): Decision {
  const view = parsePodView(raw);
  if (!view.ok) throw new Error(view.error);
  return decide({ config, namespace: ns?.name ?? 'shop', namespaceInfo: ns, pod: view.pod, raw, ...extra });
}

/** Applies a decision's patch to a clone of the raw pod, failing on any operation that does not apply cleanly. */
export function patched(raw: Record<string, unknown>, decision: Decision): Record<string, unknown> {
  if (decision.action === 'skip') return structuredClone(raw);
  return jsonpatch.applyPatch(structuredClone(raw), decision.patch as jsonpatch.Operation[], true, false).newDocument;
}

export function pod(
  spec: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-7d9c-', namespace: 'shop', labels: { app: 'web' }, ...metadata },
    spec: {
      containers: [{ name: 'web', image: 'nginx:1.27', resources: {}, terminationMessagePolicy: 'File' }],
      dnsPolicy: 'ClusterFirst',
      restartPolicy: 'Always',
      ...spec,
    },
    status: {},
  };
}
