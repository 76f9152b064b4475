/**
 * The policy configuration file (YAML; examples/config.yaml is the commented reference). Parsed once at the edge:
 * the core receives a `Config` and trusts it.
 */
import { z } from 'zod';
import { formatIp, notANameserver, parseIp } from '../core/ip.ts';
import { parseOption } from '../core/resolver-options.ts';
import { type Config, DEFAULT_DISCOVERY, NODE_LOCAL_MODES, type ObjectRef, type Policy } from '../core/types.ts';
import { isDnsLabel, isDnsSubdomain } from '../core/validation.ts';
import { describeIssues } from '../zod/issues.ts';

/**
 * An IP address as the apiserver reads it (src/core/ip.ts: no zones, brackets or ports; leading zeros tolerated), so
 * a pod we write it into is never refused. Written back in Go's form (`010.96.0.10` → `10.96.0.10`): glibc and musl
 * read a leading zero in resolv.conf as octal (inet_aton), so the form the apiserver tolerates must not reach a pod.
 */
const ip = (field: string) =>
  z.string().transform((text, ctx) => {
    const parsed = parseIp(text);
    const unreachable = parsed === undefined ? undefined : notANameserver(parsed);
    if (parsed !== undefined && unreachable === undefined) return formatIp(parsed);
    const message =
      parsed === undefined
        ? `${field}: "${text}" is not an IP address (no zone, brackets or port)`
        : `${field}: "${text}" cannot be a pod's nameserver (${unreachable})`;
    ctx.addIssue({ code: 'custom', message, input: text });
    return z.NEVER;
  });

const domain = z.string().refine((s) => isDnsSubdomain(s.replace(/\.$/, '')), {
  error: (i) => `"${String(i.input)}" is not a DNS subdomain (RFC 1123)`,
});

/** `namespace/name` of a namespaced object: a DNS label, a slash, a DNS subdomain. */
const objectRef = z.string().transform((text, ctx): ObjectRef => {
  const [namespace = '', name = '', ...rest] = text.split('/');
  if (rest.length === 0 && isDnsLabel(namespace) && isDnsSubdomain(name)) return { namespace, name };
  ctx.addIssue({ code: 'custom', message: `"${text}" is not namespace/name`, input: text });
  return z.NEVER;
});

const namespaceName = z.string().refine((s) => isDnsLabel(s), {
  error: (i) => `"${String(i.input)}" is not a namespace name (RFC 1123 label)`,
});

/** Where the cluster facts are looked for (docs/adr/0010-cluster-aware-decisions.md); read once, at start. */
const discoverySchema = z
  .object({
    kubeDnsService: objectRef.default(DEFAULT_DISCOVERY.kubeDnsService),
    coreDnsConfigMap: objectRef.default(DEFAULT_DISCOVERY.coreDnsConfigMap),
    nodeLocalNamespace: namespaceName.default(DEFAULT_DISCOVERY.nodeLocalNamespace),
  })
  .strict();

const option = z.string().transform((token, ctx) => {
  const parsed = parseOption(token);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `option "${token}": ${parsed.error}` });
    return z.NEVER;
  }
  if (parsed.option.name === 'ndots') {
    ctx.addIssue({ code: 'custom', message: `option "${token}": set ndots with the policy's ndots field` });
    return z.NEVER;
  }
  return parsed.option;
});

const policySchema = z
  .object({
    ndots: z.int().min(0).max(15).optional(),
    options: z.array(option).default([]),
    nodeLocal: z.boolean().default(false),
    fallback: z.boolean().default(true),
    podOverrides: z.boolean().default(true),
  })
  .strict();

export const configSchema = z
  .object({
    // Both optional: discovered from the cluster when unset, verified against it when set.
    clusterDomain: domain.optional(),
    clusterDNS: ip('clusterDNS').optional(),
    nodeLocalDNS: ip('nodeLocalDNS').optional(),
    nodeLocalMode: z.enum(NODE_LOCAL_MODES).default('auto'),
    discovery: discoverySchema.default({ ...DEFAULT_DISCOVERY }),
    hostSearchDomains: z.array(domain).default([]),
    mode: z.enum(['enforce', 'dry-run']).default('enforce'),
    policies: z
      .record(z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'policy names must be label values'), policySchema)
      .default({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const [name, p] of Object.entries(cfg.policies)) {
      if (p.nodeLocal && !cfg.nodeLocalDNS) {
        ctx.addIssue({
          code: 'custom',
          path: ['policies', name, 'nodeLocal'],
          message: 'nodeLocal: true needs nodeLocalDNS',
        });
      }
    }
  })
  .transform((cfg): Config => ({ ...cfg, policies: { default: builtInDefault(cfg), ...cfg.policies } }));

/**
 * `default` always exists. When the file does not define it, it is what production injectors ship
 * (ndots 3, single-request-reopen, timeout:1, attempts:2), pointed at node-local DNS only when the file names it,
 * with the kube-dns fallback (configured or discovered: without one, the pod gets the options only).
 */
function builtInDefault(cfg: { nodeLocalDNS?: string | undefined }): Policy {
  return {
    ndots: 3,
    options: [{ name: 'single-request-reopen' }, { name: 'timeout', value: '1' }, { name: 'attempts', value: '2' }],
    nodeLocal: cfg.nodeLocalDNS !== undefined,
    fallback: true,
    podOverrides: true,
  };
}

export type ConfigParse = { ok: true; config: Config } | { ok: false; error: string };

/** Validates an already-parsed YAML document; the error names each bad field and value. */
export function parseConfig(doc: unknown): ConfigParse {
  const result = configSchema.safeParse(doc ?? {});
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, error: describeIssues(result.error) };
}
