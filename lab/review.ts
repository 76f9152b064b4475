/**
 * AdmissionReviews as a client of the webhook sends and reads them: the shipped example review (moved to another
 * namespace when asked), the request inside it, the response envelope checked, and the JSONPatch decoded.
 */
import { readFileSync } from 'node:fs';
import type { Operation } from 'fast-json-patch';
import { EXAMPLE_REVIEW } from './paths.ts';

export type Json = Record<string, unknown>;

/** A fresh copy of examples/admission-review.json. */
export function exampleReview(): Json {
  return JSON.parse(readFileSync(EXAMPLE_REVIEW, 'utf8')) as Json;
}

/** The example review, moved to another namespace (request and pod metadata), with an optional tweak. */
export function reviewIn(namespace: string, tweak?: (review: { request: Json & { object: Json } }) => void): Json {
  const review = exampleReview() as { request: Json & { object: Json & { metadata: Json } } };
  review.request.namespace = namespace;
  review.request.object.metadata.namespace = namespace;
  tweak?.(review);
  return review;
}

export function requestOf(review: Json): Json & { object: Json } {
  return review.request as Json & { object: Json };
}

export interface ReviewResponse {
  uid: string;
  allowed: boolean;
  patch?: string;
  patchType?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export function responseOf(body: string): ReviewResponse {
  const parsed = JSON.parse(body) as { apiVersion: string; kind: string; response: ReviewResponse };
  if (parsed.apiVersion !== 'admission.k8s.io/v1' || parsed.kind !== 'AdmissionReview') {
    throw new Error(`not an AdmissionReview response: ${body}`);
  }
  return parsed.response;
}

/** The response's JSONPatch, typed for fast-json-patch's applyPatch. */
export function decodePatch(response: ReviewResponse): Operation[] {
  if (response.patch === undefined) throw new Error('response carries no patch');
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
}
