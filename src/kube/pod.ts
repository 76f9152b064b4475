/**
 * The slice of a Pod the engine reads, validated at the edge. Only these fields are parsed: the raw object is kept
 * beside the view and is what gets copied (on write) and diffed, so fields this schema does not model are never touched.
 */

import { z } from 'zod';
import type { PodView } from '../core/types.ts';
import { describeIssues } from '../zod/issues.ts';

/**
 * A map of strings (labels, annotations, nodeSelector), checked in one plain pass and kept as it is (no copy): zod's
 * record walked a 318k-key annotations map in ~700 ms, and such a pod reaches us before the apiserver validates it.
 */
const stringMap = z.custom<Record<string, string>>(isStringMap, { error: 'must be a map of strings' });

function isStringMap(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const key in value) if (typeof (value as Record<string, unknown>)[key] !== 'string') return false;
  return true;
}

/** Only the label expressions of required node-affinity terms: they say whether a pod may land on Windows nodes. */
const nodeAffinity = z.object({
  requiredDuringSchedulingIgnoredDuringExecution: z
    .object({
      nodeSelectorTerms: z
        .array(
          z.object({
            matchExpressions: z
              .array(z.object({ key: z.string(), operator: z.string(), values: z.array(z.string()).nullish() }))
              .nullish(),
          }),
        )
        .nullish(),
    })
    .nullish(),
});

const podSchema = z.object({
  metadata: z
    .object({
      name: z.string().optional(),
      generateName: z.string().optional(),
      namespace: z.string().optional(),
      annotations: stringMap.nullish(),
      labels: stringMap.nullish(),
    })
    .optional(),
  spec: z
    .object({
      dnsPolicy: z.string().optional(),
      hostNetwork: z.boolean().nullish(),
      os: z.object({ name: z.string() }).nullish(),
      nodeSelector: stringMap.nullish(),
      affinity: z.object({ nodeAffinity: nodeAffinity.nullish() }).nullish(),
      dnsConfig: z
        .object({
          nameservers: z.array(z.string()).nullish(),
          searches: z.array(z.string()).nullish(),
          options: z.array(z.object({ name: z.string(), value: z.string().nullish() })).nullish(),
        })
        .nullish(),
    })
    .optional(),
});

export type PodViewParse = { ok: true; pod: PodView } | { ok: false; error: string };

export function parsePodView(raw: unknown): PodViewParse {
  const result = podSchema.safeParse(raw);
  if (!result.success) {
    return { ok: false, error: `pod ${describeIssues(result.error, { first: true })}` };
  }
  const { metadata, spec } = result.data;
  const dnsConfig = spec?.dnsConfig;
  const terms = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  return {
    ok: true,
    pod: {
      name: metadata?.name,
      generateName: metadata?.generateName,
      namespace: metadata?.namespace,
      annotations: metadata?.annotations ?? {},
      labels: metadata?.labels ?? {},
      dnsPolicy: spec?.dnsPolicy,
      hostNetwork: spec?.hostNetwork ?? false,
      osName: spec?.os?.name,
      nodeSelector: spec?.nodeSelector ?? {},
      requiredNodeTerms: terms.map((term) => ({
        matchExpressions: (term.matchExpressions ?? []).map((e) => ({
          key: e.key,
          operator: e.operator,
          values: e.values ?? [],
        })),
      })),
      dnsConfig: dnsConfig
        ? {
            nameservers: dnsConfig.nameservers ?? undefined,
            searches: dnsConfig.searches ?? undefined,
            options: dnsConfig.options?.map((o) =>
              o.value == null ? { name: o.name } : { name: o.name, value: o.value },
            ),
          }
        : undefined,
    },
  };
}
