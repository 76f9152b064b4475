/**
 * AdmissionReviews for the benchmarks and the golden corpus (test/support/golden.ts), built in code (deterministic: the same bytes every run, no randomness).
 *
 * The pods look like what the apiserver sends a mutating webhook for a Pod CREATE from a ReplicaSet: defaults already
 * applied (terminationMessagePath, imagePullPolicy, schedulerName, tolerations from DefaultTolerationSeconds…), the
 * projected service-account volume added by the ServiceAccount admission plugin, and a managedFields entry (the field
 * manager runs before admission: https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go).
 *
 *   small    ~3 KB: one container, the bare minimum a controller sends.
 *   typical  ~15 KB: app + sidecar + log shipper + an init container, env, volumes, probes, resources.
 *   large    ~1.5 MiB: the etcd object limit. Annotations are capped at 256 KiB in total
 *            (apimachinery ValidateAnnotationsSize, TotalAnnotationSizeLimitB), so the bulk is env vars, as in pods
 *            that inline whole configuration files into environment variables.
 */

export type Json = Record<string, unknown>;

const REVIEW_UID = '0b7f9c2e-1d3a-4c5b-9e8f-7a6b5c4d3e2f';
/** Etcd's default request size limit (--max-request-bytes 1.5 MiB): the largest pod the apiserver can store. */
export const LARGE_POD_BYTES = 1.5 * 1024 * 1024;

export interface PodShape {
  /** `minimal`: what a bare `kubectl run` pod carries after defaulting; `full`: a production Deployment's pod. */
  detail: 'minimal' | 'full';
  /** Application containers (each like the typical app container: env, probes, mounts, resources). */
  containers: number;
  /** Sidecars (envoy-like proxy and log shipper) on top of `containers`. */
  sidecars: boolean;
  initContainer: boolean;
  envPerContainer: number;
  managedFields: boolean;
  /** Extra annotation bytes (one big annotation value; the apiserver allows 256 KiB of annotations in total). */
  annotationBytes?: number;
}

export const SMALL: PodShape = {
  detail: 'minimal',
  containers: 1,
  sidecars: false,
  initContainer: false,
  envPerContainer: 6,
  managedFields: false,
};
export const TYPICAL: PodShape = {
  detail: 'full',
  containers: 1,
  sidecars: true,
  initContainer: true,
  envPerContainer: 18,
  managedFields: true,
};

export interface ReviewOptions {
  namespace: string;
  uid?: string;
}

/** The whole AdmissionReview (request only) for a pod of this shape. */
export function podReview(shape: PodShape, options: ReviewOptions): Json {
  const object = pod(shape, options.namespace);
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? REVIEW_UID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: options.namespace,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '3e5a1c2d-9b8f-4e7a-a6d5-c4b3a2918f70',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

export function reviewBytes(review: Json): Buffer {
  return Buffer.from(JSON.stringify(review));
}

/**
 * The typical pod with its first container's env grown until the review is `targetBytes` long (within a few
 * hundred bytes), plus a 200 KiB annotation.
 */
export function largeReview(options: ReviewOptions, targetBytes = LARGE_POD_BYTES): Json {
  const review = podReview({ ...TYPICAL, annotationBytes: 200 * 1024 }, options);
  const spec = (review.request as { object: { spec: { containers: Array<{ env: unknown[] }> } } }).object.spec;
  const env = spec.containers[0]!.env;
  let size = JSON.stringify(review).length;
  for (let i = 0; size < targetBytes; i++) {
    // A line of an inlined properties file: ~600 bytes per variable.
    const entry = {
      name: `APP_CONFIG_LINE_${String(i).padStart(5, '0')}`,
      value: `service.${i % 97}.endpoint=https://svc-${i}.internal.example.com:8443/api/v2?${'opt=on&'.repeat(75)}`,
    };
    env.push(entry);
    size += JSON.stringify(entry).length + 1;
  }
  return review;
}

function pod(shape: PodShape, namespace: string): Json {
  if (shape.detail === 'minimal') return minimalPod(shape, namespace);
  const app = 'checkout';
  const hash = '7d9c6b5f4';
  const annotations: Record<string, string> = {
    'kubectl.kubernetes.io/restartedAt': '2025-01-15T10:00:00Z',
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '9090',
    'prometheus.io/path': '/metrics',
    'checksum/config': 'a3f5c8e1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6',
    'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true',
  };
  if (shape.annotationBytes) annotations['example.com/inventory'] = 'x'.repeat(shape.annotationBytes);

  const containers: Json[] = [];
  for (let i = 0; i < shape.containers; i++)
    containers.push(appContainer(i === 0 ? app : `${app}-${i}`, namespace, shape.envPerContainer));
  if (shape.sidecars) containers.push(proxySidecar(), logShipper());
  const volumes: Json[] = [
    { name: 'config', configMap: { name: `${app}-config`, defaultMode: 420 } },
    { name: 'tls', secret: { secretName: `${app}-tls`, defaultMode: 420 } },
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    { name: 'logs', emptyDir: {} },
    kubeApiAccessVolume(),
  ];
  const spec: Json = {
    ...(shape.initContainer ? { initContainers: [migrationContainer(app)] } : {}),
    containers,
    volumes,
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    nodeSelector: { 'kubernetes.io/os': 'linux', 'node.kubernetes.io/pool': 'general' },
    serviceAccountName: app,
    serviceAccount: app,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    imagePullSecrets: [{ name: 'registry-credentials' }],
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              labelSelector: { matchLabels: { 'app.kubernetes.io/name': app } },
              topologyKey: 'kubernetes.io/hostname',
            },
          },
        ],
      },
    },
    schedulerName: 'default-scheduler',
    tolerations: defaultTolerations(),
    priorityClassName: 'business-critical',
    priority: 100000,
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': app } },
      },
    ],
  };
  const metadata: Json = {
    generateName: `${app}-${hash}-`,
    namespace,
    labels: {
      'app.kubernetes.io/name': app,
      'app.kubernetes.io/instance': `${app}-prod`,
      'app.kubernetes.io/version': '1.42.0',
      'app.kubernetes.io/component': 'api',
      'app.kubernetes.io/part-of': 'shop',
      'app.kubernetes.io/managed-by': 'argocd',
      'pod-template-hash': hash,
      team: 'payments',
    },
    annotations,
    ownerReferences: [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: `${app}-${hash}`,
        uid: '1f0e3c2b-8a7d-4c6b-9e5f-0a1b2c3d4e5f',
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  };
  if (shape.managedFields) {
    metadata.managedFields = [
      {
        manager: 'kube-controller-manager',
        operation: 'Update',
        apiVersion: 'v1',
        time: '2025-01-15T10:00:01Z',
        fieldsType: 'FieldsV1',
        fieldsV1: fieldsV1({ metadata: { labels: metadata.labels, ownerReferences: {} }, spec }),
      },
    ];
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec, status: {} };
}

/** A one-container pod as a controller creates it: defaults applied, service-account volume, no extras. */
function minimalPod(shape: PodShape, namespace: string): Json {
  const env: Json[] = [];
  for (let i = 0; i < shape.envPerContainer; i++)
    env.push({ name: `UPSTREAM_${i}_URL`, value: `http://upstream-${i}.${namespace}.svc:8080` });
  const containers: Json[] = [];
  for (let i = 0; i < shape.containers; i++) {
    containers.push({
      name: i === 0 ? 'web' : `web-${i}`,
      image: 'registry.example.com/shop/web:2.3.1',
      ports: [{ containerPort: 8080, protocol: 'TCP' }],
      env,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
      volumeMounts: [tokenMount('kube-api-access-5qj8d')],
      ...containerDefaults(),
    });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-5c8d7f9b6-',
      namespace,
      labels: { app: 'web', 'pod-template-hash': '5c8d7f9b6' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web-5c8d7f9b6',
          uid: '6a2b9c1d-3e4f-4a5b-8c7d-9e0f1a2b3c4d',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      volumes: [{ ...kubeApiAccessVolume(), name: 'kube-api-access-5qj8d' }],
      containers,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: defaultTolerations(),
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {},
  };
}

function appContainer(name: string, namespace: string, envCount: number): Json {
  const env: Json[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
    { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
    {
      name: 'DATABASE_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'checkout-db', key: 'password' } },
    },
    {
      name: 'GOMEMLIMIT',
      valueFrom: { resourceFieldRef: { containerName: name, resource: 'limits.memory', divisor: '1' } },
    },
  ];
  for (let i = env.length; i < envCount; i++) {
    env.push(
      i % 4 === 0
        ? { name: `FEATURE_FLAG_${i}`, valueFrom: { configMapKeyRef: { name: 'checkout-flags', key: `flag-${i}` } } }
        : { name: `UPSTREAM_${i}_URL`, value: `http://upstream-${i}.${namespace}.svc.cluster.local:8080/v1` },
    );
  }
  const probe = (path: string, initialDelaySeconds: number) => ({
    httpGet: { path, port: 'http', scheme: 'HTTP' },
    initialDelaySeconds,
    timeoutSeconds: 2,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  return {
    name,
    image: `registry.example.com/shop/${name}:1.42.0@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08`,
    args: ['--config=/etc/checkout/config.yaml', '--log-format=json', '--port=8080'],
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ],
    envFrom: [{ configMapRef: { name: 'checkout-env' } }, { secretRef: { name: 'checkout-env-secrets' } }],
    env,
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    volumeMounts: [
      { name: 'config', readOnly: true, mountPath: '/etc/checkout' },
      { name: 'tls', readOnly: true, mountPath: '/etc/tls' },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'logs', mountPath: '/var/log/checkout' },
      tokenMount(),
    ],
    livenessProbe: probe('/livez', 10),
    readinessProbe: probe('/readyz', 5),
    startupProbe: { ...probe('/livez', 0), failureThreshold: 30 },
    lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', 'sleep 5'] } } },
    ...containerDefaults('FallbackToLogsOnError'),
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

function proxySidecar(): Json {
  return {
    name: 'envoy',
    image: 'envoyproxy/envoy:v1.31.0',
    args: ['-c', '/etc/envoy/envoy.yaml', '--service-cluster', 'checkout', '--log-level', 'warn'],
    ports: [{ name: 'envoy-admin', containerPort: 9901, protocol: 'TCP' }],
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
    readinessProbe: {
      httpGet: { path: '/ready', port: 9901, scheme: 'HTTP' },
      timeoutSeconds: 1,
      periodSeconds: 5,
      successThreshold: 1,
      failureThreshold: 3,
    },
    volumeMounts: [{ name: 'config', readOnly: true, mountPath: '/etc/envoy' }, tokenMount()],
    ...containerDefaults(),
    securityContext: { allowPrivilegeEscalation: false, runAsUser: 101 },
  };
}

function logShipper(): Json {
  return {
    name: 'fluent-bit',
    image: 'cr.fluentbit.io/fluent/fluent-bit:3.1.4',
    env: [{ name: 'FLUENT_ELASTICSEARCH_HOST', value: 'logs.observability.svc.cluster.local' }],
    resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '64Mi' } },
    volumeMounts: [{ name: 'logs', readOnly: true, mountPath: '/var/log/checkout' }, tokenMount()],
    ...containerDefaults(),
  };
}

function migrationContainer(app: string): Json {
  return {
    name: 'migrate',
    image: `registry.example.com/shop/${app}-migrations:1.42.0`,
    command: ['/app/migrate', 'up'],
    env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: `${app}-db`, key: 'url' } } }],
    resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } },
    volumeMounts: [tokenMount()],
    ...containerDefaults(),
  };
}

/** Where the ServiceAccount admission plugin mounts the token volume into every container. */
function tokenMount(volume = 'kube-api-access-7xk2p'): Json {
  return { name: volume, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' };
}

/** The container fields the apiserver defaults (pkg/apis/core/v1/defaults.go), in the order they are written. */
function containerDefaults(terminationMessagePolicy = 'File'): Json {
  return { terminationMessagePath: '/dev/termination-log', terminationMessagePolicy, imagePullPolicy: 'IfNotPresent' };
}

/** The tolerations the DefaultTolerationSeconds admission plugin adds to every pod. */
function defaultTolerations(): Json[] {
  return [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
}

/** What the ServiceAccount admission plugin adds to every pod (BoundServiceAccountTokenVolume). */
function kubeApiAccessVolume(): Json {
  return {
    name: 'kube-api-access-7xk2p',
    projected: {
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
      defaultMode: 420,
    },
  };
}

/** The FieldsV1 set of a value, as the field manager writes it (`f:` fields, `k:` keyed list items). */
function fieldsV1(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out: Json = {};
    value.forEach((item, i) => {
      const name = (item as { name?: unknown } | null)?.name;
      const key = typeof name === 'string' ? `k:${JSON.stringify({ name })}` : `i:${i}`;
      out[key] = { '.': {}, ...(fieldsV1(item) as Json) };
    });
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[`f:${k}`] = fieldsV1(v);
    return out;
  }
  return {};
}
