/**
 * The benchmark's synthetic cluster namespaces, shaped like a real cluster's: the kubernetes.io/metadata.name label,
 * team/environment labels, a few unrelated annotations and the dns-tuner.io/* keys. The same list fills the fake
 * Kubernetes API that dns-tuner watches (./webhook/cluster.ts) and the job limit's map (./limit-server.ts).
 */

/** `team-000042`: a DNS label, sortable, 11 characters like many real namespace names. */
export function namespaceName(index: number): string {
  return `team-${String(index).padStart(6, '0')}`;
}

/** Which policy namespace `index` uses: most opt in to `default`, some to `options-only`, some not at all. */
function policyOf(index: number): 'default' | 'options-only' | undefined {
  const slot = index % 20;
  return slot === 0 ? undefined : slot === 1 ? 'options-only' : 'default';
}

/** Whether namespace `index` refines its policy with a namespace annotation (ndots or options). */
function annotated(index: number): boolean {
  return index % 10 === 3 || index % 10 === 7;
}

/**
 * `count` names of namespaces in the `default` policy without namespace annotations, spread evenly over the first
 * `total` (so lookups touch the whole cache, not one hot entry); names repeat when `total` has fewer. Needs total ≥ 3.
 */
export function defaultPolicyNamespaces(total: number, count: number): string[] {
  const names: string[] = [];
  for (let k = 0; k < count; k++) {
    let index = Math.floor((k * total) / count);
    while (policyOf(index) !== 'default' || annotated(index)) index = (index + 1) % total;
    names.push(namespaceName(index));
  }
  return names;
}

export interface NamespaceMetadata {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function namespaceMetadata(index: number): NamespaceMetadata {
  const name = namespaceName(index);
  const labels: Record<string, string> = {
    'kubernetes.io/metadata.name': name,
    team: `team-${index % 250}`,
    environment: index % 3 === 0 ? 'production' : 'staging',
  };
  const policy = policyOf(index);
  if (policy !== undefined) labels['dns-tuner.io/policy'] = policy;
  const annotations: Record<string, string> = {
    'scheduler.alpha.kubernetes.io/node-selector': 'node.kubernetes.io/pool=general',
    'example.com/owner': `owner-${index % 1000}@example.com`,
  };
  if (index % 10 === 3) annotations['dns-tuner.io/ndots'] = '2';
  if (index % 10 === 7) annotations['dns-tuner.io/options'] = 'timeout:2';
  return { name, labels, annotations };
}
