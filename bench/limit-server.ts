/**
 * The two limits dns-tuner is measured against, each run as a child process of the benchmark (bench/webhook.ts,
 * bench/profile.ts) on the same certificate, TLS and HTTP options, and Node flags as dns-tuner. Driven over IPC:
 *
 *   parent → { type: 'start', role, cert, key, options, namespaces }   child → { type: 'ready', port }
 *   parent → { type: 'respond', body }   (bare only: the constant answer)   child → { type: 'ok' }
 *   parent → { type: 'stop' }            child exits
 *
 * Roles:
 *   job   THE JOB'S LIMIT: what any webhook doing dns-tuner's job must at least spend, written as directly as Node
 *         allows — bare node:https, the body read and JSON.parse'd, the namespace looked up in a map of every
 *         namespace (the same N the fake API holds), the three JSON-patch operations built for this pod and this
 *         namespace's policy, base64, and the answer with the request's uid. Its answers are byte for byte
 *         dns-tuner's (the benchmark checks this before it measures), so both write the same bytes.
 *   bare  the bare limit: reads the body, JSON.parses it and writes a constant answer (dns-tuner's answer for the
 *         pod being measured): TLS, HTTP and parsing, nothing of the job.
 *
 * No validation, no logging, no metrics, no error handling beyond a 400: a floor, not a webhook.
 */
import { createServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { namespaceMetadata } from './namespaces.ts';

export type LimitRole = 'job' | 'bare';

/** The server options dns-tuner gives node:https (src/http/webhook-app.ts), passed in by the parent. */
export interface LimitServerOptions {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
  handshakeTimeout: number;
  connectionsCheckingInterval: number;
  bodyLimit: number;
  minVersion: 'TLSv1.2';
}

export type ToLimit =
  | { type: 'start'; role: LimitRole; cert: string; key: string; options: LimitServerOptions; namespaces: number }
  | { type: 'respond'; body: string }
  | { type: 'stop' };

export type FromLimit = { type: 'ready'; port: number } | { type: 'ok' } | { type: 'error'; message: string };

const POLICY_LABEL = 'dns-tuner.io/policy';
const APPLIED = 'dns-tuner.io/applied';
const CLUSTER_DOMAIN = 'cluster.local';

/** The example config's policies (examples/config.yaml) as the job writes them: dnsPolicy None, resolvers, options. */
const POLICIES: Record<string, { nameservers: string[]; options: Array<{ name: string; value?: string }> }> = {
  default: {
    nameservers: ['169.254.20.10', '10.96.0.10'],
    options: [
      { name: 'ndots', value: '3' },
      { name: 'single-request-reopen' },
      { name: 'timeout', value: '1' },
      { name: 'attempts', value: '2' },
    ],
  },
};
const SUMMARIES: Record<string, string> = {
  default:
    'dnsPolicy=None nameservers=169.254.20.10,10.96.0.10 options=ndots:3,single-request-reopen,timeout:1,attempts:2',
};

type Json = Record<string, unknown>;

function send(message: FromLimit): void {
  process.send?.(message);
}

/** The bare limit's constant answer; the parent sets it to the bytes dns-tuner answered for the pod being measured. */
let constant = Buffer.from(
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '', allowed: true } }),
);

/** JSON.parse of the body: what every Node webhook must do. */
function parseReview(chunks: Buffer[]): Json {
  return JSON.parse(Buffer.concat(chunks).toString()) as Json;
}

/** The namespace's policy label, from the map of every namespace. */
function lookupNamespace(namespaces: Map<string, Record<string, string>>, name: string): string | undefined {
  return namespaces.get(name)?.[POLICY_LABEL];
}

/** The three JSON-patch operations for this pod and namespace, as base64 of their JSON. */
function buildPatch(pod: { metadata?: { annotations?: Json } }, namespace: string, policyName: string): string {
  const policy = POLICIES[policyName]!;
  const applied = `${policyName}: ${SUMMARIES[policyName]}`;
  const dnsConfig = {
    nameservers: policy.nameservers,
    searches: [`${namespace}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN],
    options: policy.options,
  };
  const patch = [
    { op: 'replace', path: '/spec/dnsPolicy', value: 'None' },
    { op: 'add', path: '/spec/dnsConfig', value: dnsConfig },
    pod.metadata?.annotations
      ? { op: 'add', path: `/metadata/annotations/${APPLIED.replace('/', '~1')}`, value: applied }
      : { op: 'add', path: '/metadata/annotations', value: { [APPLIED]: applied } },
  ];
  return Buffer.from(JSON.stringify(patch)).toString('base64');
}

/** The answer: the patch for a namespace with a policy, a plain allow otherwise. */
function jobAnswer(review: Json, namespaces: Map<string, Record<string, string>>): string {
  const request = review.request as Json;
  const uid = request.uid as string;
  const namespace = request.namespace as string;
  const policyName = lookupNamespace(namespaces, namespace);
  if (policyName === undefined || POLICIES[policyName] === undefined) {
    return JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid, allowed: true },
    });
  }
  const patch = buildPatch(request.object as { metadata?: { annotations?: Json } }, namespace, policyName);
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: true,
      patch,
      patchType: 'JSONPatch',
      auditAnnotations: { policy: policyName, applied: SUMMARIES[policyName] },
    },
  });
}

async function start(message: Extract<ToLimit, { type: 'start' }>): Promise<{ port: number; close: () => unknown }> {
  const { options } = message;
  // Only the dns-tuner.io/ labels, as dns-tuner's cache keeps them.
  const namespaces = new Map<string, Record<string, string>>();
  for (let i = 0; i < message.namespaces; i++) {
    const { name, labels } = namespaceMetadata(i);
    const ours: Record<string, string> = {};
    for (const key of Object.keys(labels)) if (key.startsWith('dns-tuner.io/')) ours[key] = labels[key]!;
    namespaces.set(name, ours);
  }
  const serverOptions: ServerOptions = {
    cert: message.cert,
    key: message.key,
    minVersion: options.minVersion,
    headersTimeout: options.headersTimeout,
    connectionsCheckingInterval: options.connectionsCheckingInterval,
    handshakeTimeout: options.handshakeTimeout,
  };
  const job = message.role === 'job';
  const server = createServer(serverOptions, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', function readBody(chunk: Buffer) {
      size += chunk.length;
      if (size <= options.bodyLimit) chunks.push(chunk);
    });
    req.on('end', function writeAnswer() {
      let answer: Buffer | string;
      try {
        const review = parseReview(chunks);
        answer = job ? jobAnswer(review, namespaces) : constant;
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(answer),
      });
      res.end(answer);
    });
  });
  server.keepAliveTimeout = options.keepAliveTimeout;
  server.requestTimeout = options.requestTimeout;
  server.setTimeout(options.connectionTimeout);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

let running: { close: () => unknown } | undefined;

process.on('message', (message: ToLimit) => {
  (async () => {
    switch (message.type) {
      case 'start': {
        running = await start(message);
        send({ type: 'ready', port: (running as { port: number } & typeof running).port });
        return;
      }
      case 'respond':
        constant = Buffer.from(message.body);
        send({ type: 'ok' });
        return;
      case 'stop':
        await running?.close();
        process.exit(0);
    }
  })().catch((error: unknown) => {
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  });
});

// The parent going away (Ctrl-C on the benchmark) takes the server with it.
process.on('disconnect', () => process.exit(0));
