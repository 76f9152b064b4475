/**
 * `dns-tuner explain`: what the webhook would do to a workload, before anyone labels a namespace.
 *
 * Offline (default) it runs the webhook's own dry-run service (../dryrun/service.ts → ../review/service.ts → the
 * engine) with the same config and namespace file loaders as the server, and loads no HTTP code; with `--server` it
 * asks a running webhook's `POST /dry-run` instead. Exit codes come from the error table (../errors.ts): 0 every
 * object explained (whatever the decision), 2 bad input (usage, unreadable or invalid file, YAML error, not a
 * Kubernetes object, bad config; the good objects of the file are still explained), 1 anything else (the server
 * could not be reached or failed).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { ClusterFactsReader } from '../cluster/source.ts';
import { loadConfig } from '../config/load.ts';
import { objectsOf, POD_TEMPLATE_PATHS, parseNames, parseYamlDocuments, type WhatIf } from '../dryrun/input.ts';
import type { DryRunReport } from '../dryrun/report.ts';
import { createDryRunService } from '../dryrun/service.ts';
import { formatReportText } from '../dryrun/text.ts';
import { DnsTunerError, ERRORS, type ErrorCode, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, isExpected } from '../errors.ts';
import { openObjectFile } from '../namespaces/file-source.ts';
import type { NamespaceSource } from '../namespaces/source.ts';

/** Where `POST /dry-run` lives on a running webhook (src/http/dry-run.ts serves it; no HTTP code is imported here). */
const DRY_RUN_PATH = '/dry-run';

export const EXPLAIN_USAGE = `Usage: dns-tuner explain -f FILE [options]

Shows what the dns-tuner webhook would do to a Pod or workload: the decision and why, where every setting comes
from, the exact patch, the pod's resolv.conf before and after, the DNS queries one lookup costs (glibc and musl),
and the warnings. Reads Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs,
CronJobs, PodTemplates and AdmissionReviews; multi-document files and Lists are explained object by object.

Input
  -f, --filename FILE       YAML or JSON file; - reads stdin (kubectl get deploy x -o yaml | dns-tuner explain -f -)
  -n, --namespace NAME      namespace for objects that do not name one (must match those that do)
      --names A,B           extra names for the query-cost table (repeatable)
  -o, --output text|json    text (default) or the JSON the /dry-run endpoint answers (an array for several objects)

Offline (default): the webhook's own code, no cluster needed
      --config FILE         policy configuration (YAML); default: the built-in configuration
      --namespaces FILE     what the cluster holds, as kubectl get -o yaml prints it (Lists, --- streams):
                            Namespaces, NetworkPolicies, the kube-dns Service, the CoreDNS ConfigMap, DaemonSets:
                              (kubectl get ns,networkpolicies -A -o yaml; echo ---;
                               kubectl -n kube-system get svc/kube-dns cm/coredns ds -o yaml) > cluster.yaml
                            A kind not in it is not checked: the config is trusted for it. Without it and without
                            --label/--annotation nothing is known about the namespace and the pod is skipped
      --label K=V           "what if" the namespace had this label, e.g. --label dns-tuner.io/policy=default
      --annotation K=V      "what if" the namespace had this annotation (both repeatable; they replace the
                            file's Namespaces, not its other objects)

Against a running webhook
      --server URL          e.g. https://localhost:9443: POST each object to URL/dry-run
      --cacert FILE         CA certificate(s) to trust for the server (PEM)
      --insecure            do not verify the server's certificate

Exit codes: 0 report printed, 2 bad input (usage, file, YAML, not a Kubernetes object, config), 1 server failure.
`;

export interface Io {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

interface ExplainFlags {
  filename: string;
  namespace?: string | undefined;
  names: string[];
  output: 'text' | 'json';
  config?: string | undefined;
  namespaces?: string | undefined;
  whatIf?: WhatIf | undefined;
  server?: URL | undefined;
  cacert?: string | undefined;
  insecure: boolean;
}

/** Runs `dns-tuner explain ARGS`; resolves to the exit code. Never throws. */
export async function runExplain(args: string[], io: Io): Promise<number> {
  let flags: ExplainFlags | 'help';
  try {
    flags = parseExplainFlags(args);
  } catch (error) {
    if (!isExpected(error)) throw error;
    io.stderr.write(`dns-tuner explain: ${error.message}\nRun dns-tuner explain --help for usage.\n`);
    return error.exitCode;
  }
  if (flags === 'help') {
    io.stdout.write(EXPLAIN_USAGE);
    return EXIT_OK;
  }
  try {
    return await explain(flags, io);
  } catch (error) {
    io.stderr.write(`dns-tuner explain: ${error instanceof Error ? error.message : String(error)}\n`);
    return isExpected(error) ? error.exitCode : EXIT_FAILED;
  }
}

function parseExplainFlags(args: string[]): ExplainFlags | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw usageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (parsed.positionals.length > 0) throw usageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
  if (v.filename === undefined) throw usageError('-f FILE is required (use -f - for stdin)');
  const output = v.output ?? 'text';
  if (output !== 'text' && output !== 'json')
    throw usageError(`--output must be text or json, got ${JSON.stringify(output)}`);
  const names = parseNames(v.names, '--names');
  if (!names.ok) throw usageError(names.error.message.replace(/^bad query parameter /, ''));
  let server: URL | undefined;
  if (v.server !== undefined) {
    try {
      server = new URL(v.server);
    } catch {
      throw usageError(`--server must be a URL such as https://localhost:9443, got ${JSON.stringify(v.server)}`);
    }
    if (server.protocol !== 'https:' && server.protocol !== 'http:') {
      throw usageError(`--server must be an http(s) URL, got ${JSON.stringify(v.server)}`);
    }
    for (const offline of ['config', 'namespaces'] as const) {
      if (v[offline] !== undefined) throw usageError(`--${offline} is for offline use; the server uses its own`);
    }
  } else {
    for (const remote of ['cacert', 'insecure'] as const) {
      if (v[remote] !== undefined) throw usageError(`--${remote} needs --server`);
    }
  }
  const labels = keyValues(v.label ?? [], '--label');
  const annotations = keyValues(v.annotation ?? [], '--annotation');
  const whatIf = v.label !== undefined || v.annotation !== undefined ? { labels, annotations } : undefined;
  return {
    filename: v.filename,
    namespace: v.namespace,
    names: names.value,
    output,
    config: v.config,
    namespaces: v.namespaces,
    whatIf,
    server,
    cacert: v.cacert,
    insecure: v.insecure ?? false,
  };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      filename: { type: 'string', short: 'f' },
      namespace: { type: 'string', short: 'n' },
      names: { type: 'string', multiple: true },
      output: { type: 'string', short: 'o' },
      config: { type: 'string' },
      namespaces: { type: 'string' },
      label: { type: 'string', multiple: true },
      annotation: { type: 'string', multiple: true },
      server: { type: 'string' },
      cacert: { type: 'string' },
      insecure: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function keyValues(entries: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw usageError(`${flag} takes KEY=VALUE, got ${JSON.stringify(entry)}`);
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

async function readInput(filename: string, stdin: Readable): Promise<string> {
  if (filename === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(filename, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DnsTunerError(
      'DNS_TUNER_BAD_FILE',
      filename,
      code === 'ENOENT' ? 'no such file' : (error as Error).message,
    );
  }
}

const EXPLAINABLE = new Set(['Pod', 'AdmissionReview', ...Object.keys(POD_TEMPLATE_PATHS)]);

/** One object of the file, with where it is (for messages). */
interface Item {
  object: unknown;
  label: string;
}

async function explain(flags: ExplainFlags, io: Io): Promise<number> {
  const source = flags.filename === '-' ? 'stdin' : flags.filename;
  const text = await readInput(flags.filename, io.stdin);
  const docs = parseYamlDocuments(text);
  if (!docs.ok) throw new DnsTunerError('DNS_TUNER_BAD_FILE', source, docs.error.message);
  const objects = objectsOf(docs.value);
  if (objects.length === 0) throw new DnsTunerError('DNS_TUNER_BAD_FILE', source, 'no objects in it');

  // In a file of several objects (a Service beside its Deployment), the ones without pods are passed over.
  let items: Item[] = objects.map((object, i) => ({ object, label: describeItem(object, i, objects.length) }));
  // A scalar or list where an object should be is bad input (exit 2), reported with the others still explained.
  let exit = EXIT_OK;
  if (items.length > 1) {
    const kept: Item[] = [];
    for (const item of items) {
      if (!isObject(item.object)) {
        io.stderr.write(`dns-tuner explain: ${source}: ${item.label}: not a Kubernetes object\n`);
        exit = EXIT_BAD_INPUT;
      } else if (!EXPLAINABLE.has(kindOf(item.object) ?? '')) {
        io.stderr.write(`dns-tuner explain: ${item.label}: no pod template, passed over\n`);
      } else {
        kept.push(item);
      }
    }
    items = kept;
    if (items.length === 0) {
      throw new DnsTunerError('DNS_TUNER_BAD_FILE', source, 'no Pod, workload or AdmissionReview in it');
    }
  }

  const run = flags.server === undefined ? await offlineRunner(flags) : await serverRunner(flags);
  const outputs: string[] = [];
  const reports: unknown[] = [];
  for (const item of items) {
    const result = await run(item.object);
    if (!result.ok) {
      const where = items.length > 1 || objects.length > 1 ? `${item.label}: ` : '';
      io.stderr.write(`dns-tuner explain: ${source}: ${where}${result.error}\n`);
      exit = Math.max(exit, result.exit);
      continue;
    }
    if (flags.output === 'json') reports.push(result.json);
    else outputs.push(result.text);
  }
  if (flags.output === 'json' && reports.length > 0) {
    io.stdout.write(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
  } else if (outputs.length > 0) {
    io.stdout.write(outputs.join(`\n${'='.repeat(100)}\n\n`));
  }
  return exit;
}

type RunResult = { ok: true; text: string; json: unknown } | { ok: false; error: string; exit: number };
type Runner = (object: unknown) => Promise<RunResult>;

async function offlineRunner(flags: ExplainFlags): Promise<Runner> {
  const config = await loadConfig(flags.config);
  let namespaces: NamespaceSource | null = null;
  let clusterFacts: ClusterFactsReader | null = null;
  if (flags.namespaces !== undefined) {
    const file = openObjectFile(flags.namespaces, config.discovery);
    await file.clusterFacts.start();
    clusterFacts = file.clusterFacts;
    // --label/--annotation replace what the file says of the namespace; its other objects still count.
    if (flags.whatIf === undefined) namespaces = file.namespaces;
  }
  const dryRun = createDryRunService({ getConfig: () => config, namespaces, clusterFacts });
  return async (object) => {
    try {
      const { report } = await dryRun.run(object, {
        namespace: flags.namespace,
        names: flags.names,
        whatIf: flags.whatIf,
      });
      return { ok: true, json: report, text: formatReportText(report) };
    } catch (error) {
      if (isExpected(error)) return { ok: false, error: error.message, exit: error.exitCode };
      throw error;
    }
  };
}

async function serverRunner(flags: ExplainFlags): Promise<Runner> {
  const server = flags.server!;
  const base = server.pathname.replace(/\/+$/, '');
  // Read once, not per object: a List or a multi-document file posts many.
  const ca = flags.cacert === undefined ? undefined : await readCa(flags.cacert);
  return async (object) => {
    const query = new URLSearchParams({ output: flags.output });
    if (flags.namespace !== undefined) query.set('namespace', flags.namespace);
    if (flags.names.length > 0) query.set('names', flags.names.join(','));
    const url = new URL(`${base}${DRY_RUN_PATH}?${query}`, server);
    const body = flags.whatIf === undefined ? object : { namespace: flags.whatIf, object };
    const res = await postJson(url, JSON.stringify(body), { ca, insecure: flags.insecure });
    if (res.status === 200) {
      return flags.output === 'json'
        ? { ok: true, json: JSON.parse(res.body) as DryRunReport, text: '' }
        : { ok: true, json: undefined, text: res.body };
    }
    let message = res.body.trim();
    let code: unknown;
    try {
      ({ message = message, code } = JSON.parse(res.body) as { message?: string; code?: unknown });
    } catch {
      // not JSON: show it as it came
    }
    // The server's coded error says whose fault it is (ERRORS' exit column); anything else is the server's failure.
    const exit =
      typeof code === 'string' && Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode].exitCode : EXIT_FAILED;
    const failed = new DnsTunerError('DNS_TUNER_SERVER_FAILED', url.origin, res.status, message);
    return { ok: false, error: failed.message, exit };
  };
}

async function readCa(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DnsTunerError(
      'DNS_TUNER_BAD_FILE',
      `--cacert ${path}`,
      code === 'ENOENT' ? 'no such file' : (error as Error).message,
    );
  }
}

/** A POST with node:https (a CA of our own per request, no global agent state), bounded in time. */
function postJson(
  url: URL,
  body: string,
  tls: { ca?: string | undefined; insecure: boolean },
): Promise<{ status: number; body: string }> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          accept: 'application/json, text/plain',
        },
        timeout: 30_000,
        ...(url.protocol === 'https:' ? { ca: tls.ca, rejectUnauthorized: !tls.insecure } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url.origin}: no answer within 30 s`)));
    req.on('error', (error) => reject(new Error(`${url.origin}: ${error.message}`)));
    req.end(body);
  });
}

function usageError(message: string): DnsTunerError {
  return new DnsTunerError('DNS_TUNER_BAD_FLAG', message);
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(object: unknown): string | undefined {
  const kind = (object as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

function describeItem(object: unknown, index: number, total: number): string {
  const kind = kindOf(object) ?? 'object';
  const name = (object as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  const named = typeof name === 'string' ? `${kind}/${name}` : kind;
  return total > 1 ? `object ${index + 1} (${named})` : named;
}
