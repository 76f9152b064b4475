/**
 * /mutate over real HTTPS: a CA and a serving certificate for dns-tuner.dns-tuner.svc are generated per run, and the
 * client trusts only that CA and checks the name, as the apiserver does with the webhook's caBundle.
 */
import https from 'node:https';
import jsonpatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsPost } from '../../lab/client.ts';
import { SERVICE_NAME } from '../../lab/paths.ts';
import { makeCa, makeServingCert } from '../../lab/pki.ts';
import { decodePatch, exampleReview, type Json, requestOf, responseOf, reviewIn } from '../../lab/review.ts';
import { setTlsContext } from '../../src/http/webhook-app.ts';
import { type HttpsWebhook, startHttpsWebhook } from '../support/webhook.ts';

let web: HttpsWebhook;

beforeAll(async () => {
  web = await startHttpsWebhook({ caName: 'mutate-test CA', hosts: [SERVICE_NAME, `${SERVICE_NAME}.cluster.local`] });
});

afterAll(async () => {
  await web?.close();
});

const post = (
  review: Json,
  tls: { ca: string; servername: string; agent?: https.Agent } = { ca: web.ca.cert, servername: SERVICE_NAME },
) => httpsPost(web.port, '/mutate', JSON.stringify(review), tls);

/** Applies the response's patch to a deep clone of the pod that was sent, as the apiserver does. */
function patchedPod(review: Json, body: string): Json {
  const ops = decodePatch(responseOf(body));
  return jsonpatch.applyPatch(structuredClone(requestOf(review).object), ops, true, false).newDocument as Json;
}

describe('POST /mutate over HTTPS', () => {
  it('rewrites a ClusterFirst pod in an opted-in namespace to node-local DNS with kube-dns fallback', async () => {
    const review = exampleReview();
    const res = await post(review);
    expect(res.status).toBe(200);
    const response = responseOf(res.body);
    expect(response).toMatchObject({ uid: requestOf(review).uid, allowed: true, patchType: 'JSONPatch' });

    const pod = patchedPod(review, res.body) as { spec: Json & { dnsConfig: Json }; metadata: Json };
    expect(pod.spec.dnsPolicy).toBe('None');
    expect(pod.spec.dnsConfig.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);
    expect(pod.spec.dnsConfig.searches).toEqual(['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
    expect(pod.spec.dnsConfig.options).toContainEqual({ name: 'ndots', value: '3' });

    // Everything the engine does not own is untouched: containers, tolerations, owner references, other annotations.
    const sent = requestOf(review).object as { spec: Json; metadata: Json & { annotations: Json } };
    expect(pod.spec.containers).toEqual(sent.spec.containers);
    expect(pod.spec.tolerations).toEqual(sent.spec.tolerations);
    expect(pod.metadata.ownerReferences).toEqual(sent.metadata.ownerReferences);
    expect(pod.metadata.annotations).toMatchObject(sent.metadata.annotations);
  });

  it('logs one line for the review with its outcome', async () => {
    const review = reviewIn('shop', (r) => {
      r.request.uid = 'log-line-uid';
    });
    await post(review);
    const lines = web.logs.lines.filter((l) => l.uid === 'log-line-uid');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      namespace: 'shop',
      pod: 'checkout-7d9c6b5f4-*',
      decision: 'mutated',
      reason: 'policy-applied',
      policy: 'default',
      patchOps: 3,
      warnings: 0,
    });
    expect(typeof lines[0]?.latencyMs).toBe('number');
  });

  it('counts the apiserver’s dry-run reviews apart (server_dry_run), and annotation typos by key', async () => {
    const count = async (name: string, labels: string) => {
      const text = await web.deps.registry.getSingleMetricAsString(name);
      const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const real = '{decision="mutated",reason="policy-applied",policy="default",server_dry_run="false"}'.slice(1, -1);
    const dry = real.replace('server_dry_run="false"', 'server_dry_run="true"');
    const [realBefore, dryBefore] = [
      await count('dns_tuner_reviews_total', real),
      await count('dns_tuner_reviews_total', dry),
    ];
    const typo = 'annotation="dns-tuner.io/ndots"';
    const typosBefore = await count('dns_tuner_invalid_annotations_total', typo);

    const serverDryRun = reviewIn('shop', (r) => {
      r.request.dryRun = true;
      (r.request.object as { metadata: Json }).metadata.annotations = { 'dns-tuner.io/ndots': 'three' };
    });
    expect((await post(serverDryRun)).status).toBe(200);
    expect(await count('dns_tuner_reviews_total', dry)).toBe(dryBefore + 1);
    expect(await count('dns_tuner_reviews_total', real)).toBe(realBefore);
    expect(await count('dns_tuner_invalid_annotations_total', typo)).toBe(typosBefore + 1);
  });

  it('keeps dnsPolicy ClusterFirst and only sets resolver options under an options-only policy', async () => {
    const review = reviewIn('payments');
    const res = await post(review);
    const pod = patchedPod(review, res.body) as { spec: Json & { dnsConfig: Json } };
    expect(pod.spec.dnsPolicy).toBe('ClusterFirst');
    expect(pod.spec.dnsConfig.nameservers).toBeUndefined();
    expect(pod.spec.dnsConfig.options).toContainEqual({ name: 'single-request-reopen' });
  });

  it('answers a dry-run namespace with warnings and audit annotations but no patch', async () => {
    const res = await post(reviewIn('staging'));
    const response = responseOf(res.body);
    expect(response.allowed).toBe(true);
    expect(response.patch).toBeUndefined();
    expect(response.patchType).toBeUndefined();
    expect(response.warnings?.join('\n')).toContain('dry-run');
    expect(response.auditAnnotations).toBeDefined();
    for (const w of response.warnings ?? []) expect(w.length).toBeLessThanOrEqual(120);
  });

  it('admits pods of a namespace that has not opted in unchanged', async () => {
    const response = responseOf((await post(reviewIn('legacy'))).body);
    expect(response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('sends the 120 s keep-alive the apiserver needs (its idle connections live 90 s)', async () => {
    const agent = new https.Agent({ keepAlive: true });
    try {
      const res = await post(exampleReview(), { ca: web.ca.cert, servername: SERVICE_NAME, agent });
      expect(res.headers.connection).toBe('keep-alive');
      expect(res.headers['keep-alive']).toBe('timeout=120');
    } finally {
      agent.destroy();
    }
  });

  it('is refused by a client that trusts another CA', async () => {
    const other = await makeCa({ commonName: 'some other CA' });
    await expect(post(exampleReview(), { ca: other.cert, servername: SERVICE_NAME })).rejects.toMatchObject({
      code: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/),
    });
  });

  it('is refused by a client that expects another name', async () => {
    await expect(post(exampleReview(), { ca: web.ca.cert, servername: 'dns-tuner.other.svc' })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('serves a swapped certificate to new connections (setTlsContext, for certificate rotation)', async () => {
    const nextCa = await makeCa({ commonName: 'rotated CA' });
    const next = await makeServingCert(nextCa, { hosts: [SERVICE_NAME] });
    setTlsContext(web.app, next);
    try {
      const res = await post(exampleReview(), { ca: nextCa.cert, servername: SERVICE_NAME });
      expect(responseOf(res.body).patchType).toBe('JSONPatch');
      await expect(post(exampleReview())).rejects.toMatchObject({ code: expect.stringMatching(/UNABLE_TO/) });
    } finally {
      setTlsContext(web.app, web.serving);
    }
    expect((await post(exampleReview())).status).toBe(200);
  });
});
