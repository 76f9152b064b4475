/**
 * Reading a V8 CPU profile (`--cpu-prof`) as "where does a review's CPU go": every sample inside the measured window
 * is charged to one component of the request path, by the innermost frame of its stack that says which — a frame of
 * zod or a regular expression says nothing (its caller does: the envelope, the pod view, the body parser), a frame of
 * pino says logging wherever it is called from. Samples of the idle loop are left out.
 */

/** The components, in the order a request meets them. */
export const COMPONENTS = [
  'TLS/HTTP core (node)',
  'framework (Fastify routing, hooks, reply)',
  'body parsing (JSON, poisoning check)',
  'envelope validation (zod)',
  'pod view (zod)',
  'namespace lookup',
  'engine (decide)',
  'patch building (diff, base64)',
  'response encoding',
  'logging (pino)',
  'metrics (prom-client)',
  'review glue (service, instrumentation)',
  'timers, promises, ticks',
  'GC',
  'V8 and native, unattributed',
  'other',
] as const;
export type Component = (typeof COMPONENTS)[number];

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Functions of the limit server (bench/limit-server.ts), named for the part of the job each does. */
const LIMIT_FUNCTIONS: Record<string, Component> = {
  readBody: 'TLS/HTTP core (node)',
  parseReview: 'body parsing (JSON, poisoning check)',
  lookupNamespace: 'namespace lookup',
  buildPatch: 'patch building (diff, base64)',
  jobAnswer: 'response encoding',
  writeAnswer: 'response encoding',
};

/** dns-tuner's modules (dist/…) by path suffix, then by function where one module holds several parts. */
function ours(path: string, fn: string): Component | undefined {
  if (path.startsWith('admission/review.')) {
    if (fn === 'buildReviewResponse') return 'patch building (diff, base64)';
    if (fn === 'podName') return 'logging (pino)';
    return 'envelope validation (zod)';
  }
  if (path.startsWith('kube/pod.')) return 'pod view (zod)';
  if (path.startsWith('core/patch.') || (path.startsWith('core/decide.') && (fn === 'applyTo' || fn === 'child'))) {
    return 'patch building (diff, base64)';
  }
  if (path.startsWith('core/')) return 'engine (decide)';
  if (path.startsWith('namespaces/') || path.startsWith('kube/')) return 'namespace lookup';
  if (path.startsWith('review/service.') && fn.startsWith('lookup')) return 'namespace lookup';
  if (path.startsWith('review/')) return 'review glue (service, instrumentation)';
  if (path.startsWith('logging/')) return 'logging (pino)';
  if (path.startsWith('metrics/')) return 'metrics (prom-client)';
  if (path.startsWith('http/json-body.')) return 'body parsing (JSON, poisoning check)';
  if (path.startsWith('http/') && /json|parse/i.test(fn)) return 'body parsing (JSON, poisoning check)';
  if (path.startsWith('http/') && /send|encode|serial/i.test(fn)) return 'response encoding';
  if (path.startsWith('http/') || path.startsWith('server/')) return 'framework (Fastify routing, hooks, reply)';
  return undefined;
}

const PACKAGES: Array<[string, Component | null]> = [
  ['secure-json-parse', 'body parsing (JSON, poisoning check)'],
  ['fast-json-patch', 'patch building (diff, base64)'],
  ['fast-json-stringify', 'response encoding'],
  ['pino', 'logging (pino)'],
  ['sonic-boom', 'logging (pino)'],
  ['thread-stream', 'logging (pino)'],
  ['prom-client', 'metrics (prom-client)'],
  ['zod', null],
  ['fastify', 'framework (Fastify routing, hooks, reply)'],
  ['@fastify', 'framework (Fastify routing, hooks, reply)'],
  ['find-my-way', 'framework (Fastify routing, hooks, reply)'],
  ['avvio', 'framework (Fastify routing, hooks, reply)'],
  ['light-my-request', 'framework (Fastify routing, hooks, reply)'],
  ['toad-cache', 'framework (Fastify routing, hooks, reply)'],
  ['process-warning', 'framework (Fastify routing, hooks, reply)'],
];

/**
 * The component one frame stands for, `null` when the frame says nothing (charge its caller), or 'idle'.
 * Exported for the tests of the classification.
 */
export function classify(frame: CallFrame): Component | null | 'idle' {
  const { functionName: fn, url } = frame;
  if (url === '') {
    if (fn === '(idle)') return 'idle';
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(program)') return 'V8 and native, unattributed';
    if (fn === '(root)') return 'other';
    // Natives (writeUtf8String, utf8Slice…) and regular expressions: their caller says what they are for.
    return null;
  }
  const nodeModules = url.lastIndexOf('/node_modules/');
  if (nodeModules !== -1) {
    const rest = url.slice(nodeModules + '/node_modules/'.length);
    // Fastify's reply turns the answer object into JSON (JSON.stringify, or fast-json-stringify with a schema).
    if (rest.startsWith('fastify/lib/reply.') && fn === 'serialize') return 'response encoding';
    // Reading the body into one string: the job limit's parseReview does the same (Buffer.concat, toString).
    if (rest.startsWith('fastify/lib/content-type-parser.')) return 'body parsing (JSON, poisoning check)';
    for (const [name, component] of PACKAGES) if (rest.startsWith(`${name}/`)) return component;
    return null;
  }
  if (url.includes('/bench/limit-server.')) return LIMIT_FUNCTIONS[fn] ?? 'TLS/HTTP core (node)';
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) return ours(url.slice(dist + '/dist/'.length), fn) ?? 'other';
  if (url.startsWith('node:internal/timers') || url.startsWith('node:timers')) return 'timers, promises, ticks';
  if (url.startsWith('node:internal/process/task_queues') || url.startsWith('node:internal/abort_controller')) {
    return 'timers, promises, ticks';
  }
  // Plumbing whose caller says what it is for: a buffer's byteLength or toString, an fs write (the log), an event.
  for (const transparent of ['node:internal/async_hooks', 'node:async_hooks', 'node:buffer', 'node:internal/buffer']) {
    if (url.startsWith(transparent)) return null;
  }
  for (const transparent of ['node:fs', 'node:internal/fs', 'node:events'])
    if (url.startsWith(transparent)) return null;
  if (url.startsWith('node:')) return 'TLS/HTTP core (node)';
  return 'other';
}

export interface Breakdown {
  /** Sampled CPU time per component inside the window, µs. */
  byComponent: Map<Component, number>;
  /** Self time per function (name and place) inside the window, µs, for the detail table. */
  byFunction: Map<string, number>;
  /** All non-idle sampled time in the window, µs. */
  busy: number;
}

function place(frame: CallFrame): string {
  const { url } = frame;
  const short = url
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/dist\//, 'dist/')
    .replace(/^.*\/bench\//, 'bench/')
    .replace(/^file:\/\//, '');
  return `${frame.functionName || '(anonymous)'} ${short}${url ? `:${frame.lineNumber + 1}` : ''}`;
}

/** A stretch of time, µs on the monotonic clock the profile uses (process.hrtime's on Linux). */
export interface Window {
  from: number;
  to: number;
}

/** Charges the samples taken inside `windows` to components. */
export function breakdown(profile: CpuProfile, windows: readonly Window[]): Breakdown {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) byId.set(node.id, node);
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const componentOf = new Map<number, Component | 'idle'>();
  const resolve = (id: number): Component | 'idle' => {
    const known = componentOf.get(id);
    if (known !== undefined) return known;
    let found: Component | 'idle' = 'other';
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const c = classify(byId.get(at)!.callFrame);
      if (c !== null) {
        found = c;
        break;
      }
    }
    componentOf.set(id, found);
    return found;
  };
  const byComponent = new Map<Component, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]!;
    // A sample stands for the time until the next one.
    const span = profile.timeDeltas[i + 1] ?? 0;
    if (!windows.some((w) => time >= w.from && time <= w.to)) continue;
    const id = profile.samples[i]!;
    const component = resolve(id);
    if (component === 'idle') continue;
    busy += span;
    byComponent.set(component, (byComponent.get(component) ?? 0) + span);
    const name = place(byId.get(id)!.callFrame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + span);
  }
  return { byComponent, byFunction, busy };
}
