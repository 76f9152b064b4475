/**
 * The admission.k8s.io/v1 AdmissionReview envelope: parsed once at the edge, answered with `buildReviewResponse`.
 * Contract: https://github.com/kubernetes/api/blob/master/admission/v1/types.go and
 * https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#response
 *
 * `request.object` is only checked to be a JSON object and is handed on by reference, never through zod: zod's
 * object parsing drops keys it does not model, and the patch must be computed against the pod exactly as received.
 */

import { z } from 'zod';
import type { PatchOperation } from '../core/types.ts';
import { boundWarnings } from '../core/warnings.ts';
import { describeIssues } from '../zod/issues.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

import { showValue } from '../core/show-value.ts';

const expected =
  (what: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? 'is required' : `must be ${what}, got ${showValue(issue.input)}`;

const str = (what = 'a string') => z.string({ error: expected(what) });

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const groupVersionKind = z.object(
  { group: str(), version: str(), kind: str() },
  { error: expected('an object {group, version, kind}') },
);

const groupVersionResource = z.object(
  { group: str(), version: str(), resource: str() },
  { error: expected('an object {group, version, resource}') },
);

const requestSchema = z.object(
  {
    uid: str('a non-empty string').min(1, { error: 'must not be empty' }),
    kind: groupVersionKind,
    resource: groupVersionResource,
    subResource: str().optional(),
    // A plain string, not an enum: an operation added by a later Kubernetes release must be admitted, not rejected.
    operation: str('an operation such as "CREATE"').min(1, { error: 'must not be empty' }),
    name: str().optional(),
    namespace: str().optional(),
    dryRun: z.boolean({ error: expected('a boolean') }).optional(),
    // Checked here, taken from the raw body below (see the module comment).
    object: z
      .unknown()
      .refine((v) => v === undefined || v === null || isJsonObject(v), {
        error: (issue) => `must be a JSON object, got ${showValue(issue.input)}`,
      })
      .optional(),
  },
  { error: expected('an object') },
);

const reviewSchema = z.object(
  {
    apiVersion: z.literal(ADMISSION_API_VERSION, { error: expected(`"${ADMISSION_API_VERSION}"`) }),
    kind: z.literal(ADMISSION_KIND, { error: expected(`"${ADMISSION_KIND}"`) }),
    request: requestSchema,
  },
  { error: expected('a JSON object') },
);

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string | undefined;
  operation: string;
  name?: string | undefined;
  namespace?: string | undefined;
  dryRun?: boolean | undefined;
  /** The object exactly as received (same reference as in the request body); undefined when absent or null. */
  object: Record<string, unknown> | undefined;
}

export type ReviewParse = { ok: true; request: AdmissionRequest } | { ok: false; error: string };

/** Validates the envelope; the error names every bad field and its value, e.g. `request.uid: is required`. */
export function parseAdmissionReview(body: unknown): ReviewParse {
  const result = reviewSchema.safeParse(body);
  if (!result.success) {
    return { ok: false, error: describeIssues(result.error, { root: '(body)' }) };
  }
  const { object: _validated, ...request } = result.data.request;
  const rawRequest = (body as { request: Record<string, unknown> }).request;
  const object = rawRequest.object;
  return { ok: true, request: { ...request, object: isJsonObject(object) ? object : undefined } };
}

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patch?: string;
  patchType?: 'JSONPatch';
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

export interface ResponseOptions {
  /** Empty or absent: no patch and no patchType (the apiserver rejects a patchType without a patch). */
  patch?: readonly PatchOperation[] | undefined;
  warnings?: readonly string[] | undefined;
  auditAnnotations?: Readonly<Record<string, string>> | undefined;
}

/** Every response allows the pod: dns-tuner is an optimiser and never blocks a pod. */
export function buildReviewResponse(uid: string, options: ResponseOptions = {}): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (options.patch && options.patch.length > 0) {
    response.patch = Buffer.from(JSON.stringify(options.patch)).toString('base64');
    response.patchType = 'JSONPatch';
  }
  // Each truncated, deduplicated, at most MAX_WARNINGS: whatever the caller gathered, the response stays a few KB.
  if (options.warnings && options.warnings.length > 0) response.warnings = boundWarnings(options.warnings);
  if (options.auditAnnotations && Object.keys(options.auditAnnotations).length > 0) {
    response.auditAnnotations = { ...options.auditAnnotations };
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** The pod's name for logs and reports: its name, or `<generateName>*` for a pod a controller creates. */
export function podName(object: Record<string, unknown> | undefined): string | undefined {
  const metadata = object?.metadata as { name?: unknown; generateName?: unknown } | undefined;
  if (typeof metadata?.name === 'string' && metadata.name !== '') return metadata.name;
  if (typeof metadata?.generateName === 'string' && metadata.generateName !== '') return `${metadata.generateName}*`;
  return undefined;
}
