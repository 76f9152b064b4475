/**
 * The dry-run service: what /mutate would do with a Pod, a workload's pod template or an AdmissionReview, as a
 * report — through the very same review service (../review/service.ts), so the patch it shows is byte-for-byte the
 * one /mutate returns. `POST /dry-run` (../http/dry-run.ts) and `dns-tuner explain` (../cli/explain.ts) both call it;
 * neither this file nor anything it imports knows about HTTP.
 *
 * Bad input throws a DnsTunerError (../errors.ts) naming what is wrong; the outcome of a readable object is a value.
 */

import type { ClusterFactsReader } from '../cluster/source.ts';
import type { Config } from '../core/types.ts';
import { DnsTunerError } from '../errors.ts';
import { createFixedNamespaceSource } from '../namespaces/fixed-source.ts';
import type { NamespaceSource } from '../namespaces/source.ts';
import type { ReviewOutcome } from '../review/outcome.ts';
import { createReviewService, type ReviewServiceDeps } from '../review/service.ts';
import {
  checkDepth,
  type DryRunTarget,
  type Parsed,
  parseYamlDocuments,
  singleDocument,
  toTarget,
  unwrapWhatIf,
  type WhatIf,
  whatIfNamespace,
} from './input.ts';
import { buildNamespaceReport, type NamespaceReport } from './namespace-report.ts';
import { buildDryRunReport, type DryRunReport, type NamespaceOrigin } from './report.ts';
import type { YamlIsolate } from './yaml-isolate.ts';

export interface DryRunServiceDeps {
  getConfig: () => Config;
  /** Where YAML bodies are parsed (the webhook: a worker thread, ./yaml-isolate.ts); default: in this thread. */
  yaml?: YamlIsolate | undefined;
  /** null: nothing is known about namespaces (explain offline without --namespaces); every namespace is unknown. */
  namespaces: NamespaceSource | null;
  /** What the cluster says about DNS; null or absent: nothing, the config is trusted (the report says so). */
  clusterFacts?: ClusterFactsReader | null | undefined;
  lookupTimeoutMs?: number | undefined;
}

export interface DryRunParams {
  /** `?namespace=` / `-n`. */
  namespace?: string | undefined;
  /** Extra names for the cost table, already validated (parseNames). */
  names?: readonly string[] | undefined;
  /** `explain --label/--annotation`: replaces both the source and a wrapper's namespace. */
  whatIf?: WhatIf | undefined;
}

export interface DryRunResult {
  report: DryRunReport;
  target: DryRunTarget;
  outcome: ReviewOutcome;
}

export type NamespaceDryRun = { found: true; report: NamespaceReport } | { found: false; error?: string | undefined };

export interface DryRunService {
  /** Runs one object (or a what-if wrapper) through the webhook's review; throws a DnsTunerError for bad input. */
  run(body: unknown, params?: DryRunParams): Promise<DryRunResult>;
  /** A namespace's effective policy and where each value comes from. */
  namespace(name: string): Promise<NamespaceDryRun>;
  /** The one object of a YAML (or JSON) body; throws a DnsTunerError for bad or too costly YAML. */
  readYaml(text: string): Promise<unknown>;
  /** Releases the YAML worker, if any. */
  close(): Promise<void>;
}

export function createDryRunService(deps: DryRunServiceDeps): DryRunService {
  const { lookupTimeoutMs } = deps;
  const known = deps.namespaces;
  return {
    async run(body, params = {}) {
      const shallow = checkDepth(body);
      if (!shallow.ok) throw shallow.error;
      const unwrapped = unwrapWhatIf(body);
      if (!unwrapped.ok) throw unwrapped.error;
      const whatIf = params.whatIf ?? unwrapped.value.whatIf;
      const target = toTarget(unwrapped.value.object, params.namespace ?? whatIf?.name);
      if (!target.ok) throw target.error;
      if (whatIf?.name !== undefined && whatIf.name !== target.value.namespace) {
        const theirs = JSON.stringify(target.value.namespace);
        throw new DnsTunerError('DNS_TUNER_NAMESPACE_MISMATCH', JSON.stringify(whatIf.name), theirs);
      }

      let namespaces: NamespaceSource;
      let origin: NamespaceOrigin;
      if (whatIf !== undefined) {
        namespaces = createFixedNamespaceSource([whatIfNamespace(target.value.namespace, whatIf)]);
        origin = 'what-if';
      } else if (known !== null) {
        namespaces = known;
        origin = 'namespace-source';
      } else {
        namespaces = createFixedNamespaceSource([]);
        origin = 'none';
      }
      // One config for the whole run: a reload between the review and the report must not mix two configs.
      const config = deps.getConfig();
      const pinned: ReviewServiceDeps = {
        getConfig: () => config,
        namespaces,
        clusterFacts: deps.clusterFacts,
        lookupTimeoutMs,
      };
      const outcome = await createReviewService(pinned).review(target.value.request);
      const report = buildDryRunReport({
        target: target.value,
        review: outcome,
        config,
        namespaceOrigin: origin,
        names: params.names,
      });
      return { report, target: target.value, outcome };
    },

    async namespace(name) {
      const config = deps.getConfig();
      const source = known ?? createFixedNamespaceSource([]);
      const lookup = await createReviewService({
        getConfig: () => config,
        namespaces: source,
        lookupTimeoutMs,
      }).lookupNamespace(name);
      if (!lookup.found) return { found: false, error: 'error' in lookup ? lookup.error : undefined };
      const facts = deps.clusterFacts?.facts(name);
      return { found: true, report: buildNamespaceReport(config, lookup.namespace, facts) };
    },

    async readYaml(text) {
      const one = deps.yaml ? await deps.yaml.parse(text) : parseOne(text);
      if (!one.ok) throw one.error;
      return one.value;
    },

    close: async () => deps.yaml?.close(),
  };
}

function parseOne(text: string): Parsed<unknown> {
  const docs = parseYamlDocuments(text);
  return docs.ok ? singleDocument(docs.value) : docs;
}
