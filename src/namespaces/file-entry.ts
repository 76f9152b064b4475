/**
 * What the object file's readers (./file-source.ts) read of an entry, and nothing more: a large file read entry by
 * entry (src/yaml/list-stream.ts) keeps 10,000 of these until they are validated, not 10,000 namespaces with their
 * managedFields, last-applied annotations' neighbours and status. Everything a schema reads stays as it is, so an
 * invalid entry fails with the same message.
 */

/** The fields each kind's schema reads (src/kube/cluster-objects.ts; a Namespace's in ./file-source.ts). */
const FIELDS: Record<string, { metadata: readonly string[]; top: readonly string[] }> = {
  Namespace: { metadata: ['name', 'labels', 'annotations'], top: [] },
  Service: { metadata: ['name', 'namespace'], top: ['spec'] },
  ConfigMap: { metadata: ['name', 'namespace'], top: ['data'] },
  DaemonSet: { metadata: ['name', 'namespace'], top: ['spec', 'status'] },
  NetworkPolicy: { metadata: ['name', 'namespace'], top: ['spec'] },
};

/** A kind the file does not take: only what its error names (the kind, and the name in the item's label). */
const OTHER = { metadata: ['name'], top: [] } as const;

/** `value` reduced to what its kind's schema reads (an entry without `kind` is a Namespace, as the reader takes it). */
export function slimEntry(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  const kind = value.kind ?? 'Namespace';
  const fields = (typeof kind === 'string' && Object.hasOwn(FIELDS, kind) ? FIELDS[kind] : undefined) ?? OTHER;
  const out: Record<string, unknown> = {};
  for (const key of ['apiVersion', 'kind', ...fields.top]) if (Object.hasOwn(value, key)) out[key] = value[key];
  if (Object.hasOwn(value, 'metadata')) out.metadata = pick(value.metadata, fields.metadata);
  return out;
}

function pick(value: unknown, keys: readonly string[]): unknown {
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of keys) if (Object.hasOwn(value, key)) out[key] = value[key];
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
