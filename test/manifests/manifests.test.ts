// Renders the kustomize base and both overlays with the real `kubectl kustomize`, validates every object against
// the Kubernetes schemas (test/manifests/render.ts) and asserts the properties that keep the webhook safe to run:
// it can never block pods, only sees what it should, runs least-privileged, and the pieces are wired together.
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1MutatingWebhook,
  V1MutatingWebhookConfiguration,
  V1Namespace,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1Probe,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { Environment } from '@marcbachmann/cel-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseFlags } from '../../src/cli/flags.ts';
import { parseConfig } from '../../src/config/schema.ts';
import {
  type CertManagerCertificate,
  type CertManagerIssuer,
  findObject,
  type KubeObject,
  kustomize,
  matchesSelector,
  validateObject,
} from './render.ts';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const NAMESPACE = 'dns-tuner';

type Variant = 'base' | 'cert-manager' | 'self-signed';
const VARIANTS: Variant[] = ['base', 'cert-manager', 'self-signed'];
const rendered = {} as Record<Variant, KubeObject[]>;
let tmp = '';

beforeAll(async () => {
  // The self-signed overlay needs certs/self-signed.sh's output: run it into a copy of manifests/, so a developer's
  // own generated/ folder is neither used nor touched.
  tmp = await mkdtemp(join(tmpdir(), 'dns-tuner-manifests-'));
  const generated = join('overlays', 'self-signed', 'generated');
  await cp(join(repo, 'manifests'), join(tmp, 'manifests'), {
    recursive: true,
    filter: (src) => !relative(join(repo, 'manifests'), src).startsWith(generated),
  });
  await run('bash', [join(repo, 'certs', 'self-signed.sh'), '--out', join(tmp, 'manifests', generated)], {
    timeout: 30_000,
  });
  [rendered.base, rendered['cert-manager'], rendered['self-signed']] = await Promise.all([
    kustomize(join(repo, 'manifests', 'base')),
    kustomize(join(repo, 'manifests', 'overlays', 'cert-manager')),
    kustomize(join(tmp, 'manifests', 'overlays', 'self-signed')),
  ]);
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// ---- helpers ------------------------------------------------------------------------------------------------------

function webhookOf(objects: KubeObject[]): { config: V1MutatingWebhookConfiguration; webhook: V1MutatingWebhook } {
  const config = findObject<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration');
  expect(config.webhooks).toHaveLength(1);
  return { config, webhook: config.webhooks![0]! };
}

function deploymentOf(objects: KubeObject[]): { deployment: V1Deployment; container: V1Container } {
  const deployment = findObject<V1Deployment>(objects, 'Deployment', 'dns-tuner');
  const containers = deployment.spec!.template.spec!.containers;
  expect(containers).toHaveLength(1);
  return { deployment, container: containers[0]! };
}

/** Value of `--name=value` or `--name value` in a container's args. */
function flag(container: V1Container, name: string): string | undefined {
  const args = container.args ?? [];
  for (const [i, arg] of args.entries()) {
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
    if (arg === `--${name}`) return args[i + 1];
  }
  return undefined;
}

/** A container port referenced by name or number, as the kubelet and the Service controller resolve it. */
function containerPort(container: V1Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function probeTarget(container: V1Container, probe: V1Probe | undefined): { path?: string; port?: number } {
  const get = probe?.httpGet;
  return { path: get?.path, port: containerPort(container, get?.port as number | string | undefined) };
}

// ---- schema ------------------------------------------------------------------------------------------------------

describe.each(VARIANTS)('%s renders to valid Kubernetes objects', (variant) => {
  it('every object passes the OpenAPI schema and has no unknown fields', () => {
    const objects = rendered[variant];
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.flatMap(validateObject)).toEqual([]);
  });

  it('ships exactly the expected objects', () => {
    const ids = rendered[variant].map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();
    const configMap = rendered[variant].find((o) => o.kind === 'ConfigMap')?.metadata.name ?? '(none)';
    const expected = [
      'ClusterRole//dns-tuner',
      'ClusterRoleBinding//dns-tuner',
      `ConfigMap/dns-tuner/${configMap}`,
      'Deployment/dns-tuner/dns-tuner',
      'MutatingWebhookConfiguration//dns-tuner',
      'Namespace//dns-tuner',
      'NetworkPolicy/dns-tuner/dns-tuner',
      'PodDisruptionBudget/dns-tuner/dns-tuner',
      'Role/kube-system/dns-tuner-cluster-dns',
      'RoleBinding/kube-system/dns-tuner-cluster-dns',
      'Service/dns-tuner/dns-tuner',
      'ServiceAccount/dns-tuner/dns-tuner',
    ];
    if (variant === 'cert-manager') {
      expected.push(
        'Certificate/dns-tuner/dns-tuner-ca',
        'Certificate/dns-tuner/dns-tuner-serving',
        'Issuer/dns-tuner/dns-tuner-ca',
        'Issuer/dns-tuner/dns-tuner-selfsigned',
      );
    }
    if (variant === 'self-signed') expected.push('Secret/dns-tuner/dns-tuner-tls');
    expect(configMap).toMatch(/^dns-tuner-config-[a-z0-9]{10}$/); // hash suffix: a config change rolls the pods
    expect(ids).toEqual(expected.sort());
  });
});

describe('the validator itself', () => {
  it('rejects a misspelt field, a wrong type and an unknown kind', () => {
    const { deployment } = deploymentOf(rendered.base);
    const typo = { ...deployment, spec: { ...deployment.spec, replica: 2 } } as unknown as KubeObject;
    expect(validateObject(typo)).toEqual(['Deployment/dns-tuner: unknown field .spec.replica']);
    const wrongType = { ...deployment, spec: { ...deployment.spec, replicas: 'two' } } as unknown as KubeObject;
    expect(validateObject(wrongType).join('\n')).toMatch(/replicas must be integer/);
    const cert = findObject<KubeObject>(rendered['cert-manager'], 'Certificate', 'dns-tuner-serving');
    const certTypo = { ...cert, spec: { ...(cert.spec as object), renewbefore: '1h' } } as KubeObject;
    expect(validateObject(certTypo).join('\n')).toMatch(/renewbefore/);
    expect(validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })[0]).toMatch(/no schema/);
  });
});

// ---- properties every variant keeps ------------------------------------------------------------------------------

describe.each(VARIANTS)('%s: the webhook registration cannot hurt the cluster', (variant) => {
  it('fails open, fast, without side effects, and re-runs after later mutators', () => {
    const { webhook } = webhookOf(rendered[variant]);
    expect(webhook.name).toBe('pods.dns-tuner.io');
    expect(webhook.failurePolicy).toBe('Ignore');
    expect(webhook.sideEffects).toBe('None');
    expect(webhook.timeoutSeconds).toBe(3);
    expect(webhook.reinvocationPolicy).toBe('IfNeeded');
    expect(webhook.admissionReviewVersions).toEqual(['v1']);
    expect(webhook.matchPolicy).toBe('Equivalent');
  });

  it('is called for pod CREATE only', () => {
    const { webhook } = webhookOf(rendered[variant]);
    expect(webhook.rules).toEqual([
      { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
    ]);
  });

  it('calls the dns-tuner Service on 443 /mutate, which reaches the container HTTPS port', () => {
    const { webhook } = webhookOf(rendered[variant]);
    expect(webhook.clientConfig.url).toBeUndefined();
    expect(webhook.clientConfig.service).toEqual({
      name: 'dns-tuner',
      namespace: NAMESPACE,
      path: '/mutate',
      port: 443,
    });
    const service = findObject<V1Service>(rendered[variant], 'Service', 'dns-tuner');
    expect(service.metadata?.namespace).toBe(NAMESPACE);
    const https = service.spec!.ports!.find((p) => p.port === 443);
    const { deployment, container } = deploymentOf(rendered[variant]);
    expect(https?.name).toBe('https');
    expect(containerPort(container, https?.targetPort as number | string)).toBe(9443);
    expect(flag(container, 'port')).toBe('9443');
    const metrics = service.spec!.ports!.find((p) => p.name === 'metrics');
    expect(metrics?.port).toBe(8080);
    expect(containerPort(container, metrics?.targetPort as number | string)).toBe(8080);
    expect(matchesSelector({ matchLabels: service.spec!.selector }, deployment.spec!.template.metadata!.labels!)).toBe(
      true,
    );
  });

  it('namespaceSelector: opted-in namespaces only, never kube-system or its own', () => {
    const { webhook } = webhookOf(rendered[variant]);
    const selector = webhook.namespaceSelector;
    expect(selector?.matchExpressions).toEqual(
      expect.arrayContaining([
        { key: 'dns-tuner.io/policy', operator: 'Exists' },
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: expect.arrayContaining(['kube-system']) },
      ]),
    );
    // Evaluated as the apiserver does, on namespaces as the apiserver labels them.
    const ns = (name: string, labels: Record<string, string> = {}) => ({
      'kubernetes.io/metadata.name': name,
      ...labels,
    });
    expect(matchesSelector(selector, ns('shop', { 'dns-tuner.io/policy': 'default' }))).toBe(true);
    expect(matchesSelector(selector, ns('shop', { 'dns-tuner.io/policy': '' }))).toBe(true);
    expect(matchesSelector(selector, ns('shop'))).toBe(false);
    expect(matchesSelector(selector, ns('kube-system', { 'dns-tuner.io/policy': 'default' }))).toBe(false);
    expect(matchesSelector(selector, ns(NAMESPACE, { 'dns-tuner.io/policy': 'default' }))).toBe(false);
    // Its own namespace as rendered (in case someone adds the opt-in label to it by mistake).
    const own = findObject<V1Namespace>(rendered[variant], 'Namespace', NAMESPACE);
    expect(matchesSelector(selector, ns(NAMESPACE, { ...own.metadata?.labels, 'dns-tuner.io/policy': 'x' }))).toBe(
      false,
    );
    expect(own.metadata?.labels?.['dns-tuner.io/policy']).toBeUndefined();
  });

  it('objectSelector: pods labelled dns-tuner.io/skip=true are not sent, and the webhook pods carry it', () => {
    const { webhook } = webhookOf(rendered[variant]);
    const selector = webhook.objectSelector;
    expect(selector?.matchExpressions).toEqual([{ key: 'dns-tuner.io/skip', operator: 'NotIn', values: ['true'] }]);
    expect(matchesSelector(selector, {})).toBe(true);
    expect(matchesSelector(selector, { app: 'web', 'dns-tuner.io/skip': 'false' })).toBe(true);
    expect(matchesSelector(selector, { app: 'web', 'dns-tuner.io/skip': 'true' })).toBe(false);
    const { deployment } = deploymentOf(rendered[variant]);
    expect(matchesSelector(selector, deployment.spec!.template.metadata!.labels!)).toBe(false);
  });
});

// ---- matchConditions, evaluated with a CEL engine --------------------------------------------------------------

describe('matchConditions skip exactly the pods whose DNS the webhook leaves alone', () => {
  // The admission CEL environment declares object/oldObject/request as dynamic values
  // (k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions). Unknown variables fail the check.
  const env = new Environment({ unlistedVariablesAreDyn: false })
    .registerVariable('object', 'dyn')
    .registerVariable('oldObject', 'dyn')
    .registerVariable('request', 'dyn')
    .registerVariable('authorizer', 'dyn');

  const conditions = () => webhookOf(rendered.base).webhook.matchConditions ?? [];
  /** The apiserver calls the webhook only when every condition is true. */
  const called = (spec: Record<string, unknown>) =>
    conditions().every(({ expression }) => env.evaluate(expression, { object: { spec }, oldObject: null }) === true);

  it('are well-formed: qualified names, unique, type-checked boolean CEL on object.spec', () => {
    expect(conditions().length).toBeGreaterThan(0);
    const names = conditions().map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const { name, expression } of conditions()) {
      expect(name).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
      const check = env.check(expression);
      expect(check.error?.message, `${name}: ${expression}`).toBeUndefined();
      expect(check).toMatchObject({ valid: true, type: 'bool' });
    }
    const all = conditions()
      .map((c) => c.expression)
      .join('\n');
    expect(all).toContain('object.spec.dnsPolicy');
    expect(all).toContain('has(object.spec.hostNetwork)');
  });

  // kubelet's pod DNS type per dnsPolicy and hostNetwork (pkg/kubelet/network/dns/dns.go, getPodDNSType; see
  // shared/reference/kubernetes-dns.md). dns-tuner tunes only pods that get cluster DNS.
  const table: { dnsPolicy?: string; hostNetwork?: boolean; tuned: boolean }[] = [
    { dnsPolicy: 'ClusterFirst', tuned: true },
    { dnsPolicy: 'ClusterFirst', hostNetwork: false, tuned: true },
    { dnsPolicy: 'ClusterFirst', hostNetwork: true, tuned: false },
    { dnsPolicy: 'ClusterFirstWithHostNet', tuned: true },
    { dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true, tuned: true },
    { dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: false, tuned: true },
    { dnsPolicy: 'Default', tuned: false },
    { dnsPolicy: 'Default', hostNetwork: true, tuned: false },
    { dnsPolicy: 'None', tuned: false },
    { dnsPolicy: 'None', hostNetwork: true, tuned: false },
    // Defaulting always sets dnsPolicy before admission; should it ever be absent, kubelet means ClusterFirst.
    { tuned: true },
    { hostNetwork: true, tuned: false },
  ];
  it.each(table)('dnsPolicy $dnsPolicy hostNetwork $hostNetwork -> sent: $tuned', ({ tuned, ...fields }) => {
    const spec = { containers: [{ name: 'app', image: 'nginx' }], ...fields };
    expect(called(spec)).toBe(tuned);
  });

  it('never error on a minimal pod (an error would count as a webhook failure)', () => {
    for (const { expression } of conditions()) {
      expect(() => env.evaluate(expression, { object: { spec: {} } })).not.toThrow();
    }
  });
});

describe.each(VARIANTS)('%s: least privilege and a hardened pod', (variant) => {
  it('RBAC: namespaces and NetworkPolicies cluster-wide, the DNS objects in kube-system only, read-only, bound to the pod service account', () => {
    const objects = rendered[variant];
    expect(objects.filter((o) => /Role/.test(o.kind)).map((o) => o.kind)).toEqual([
      'Role',
      'ClusterRole',
      'RoleBinding',
      'ClusterRoleBinding',
    ]);
    const role = findObject<V1ClusterRole>(objects, 'ClusterRole', 'dns-tuner');
    expect(role.aggregationRule).toBeUndefined();
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch'] },
    ]);
    const subjects = [{ kind: 'ServiceAccount', name: 'dns-tuner', namespace: NAMESPACE }];
    const binding = findObject<V1ClusterRoleBinding>(objects, 'ClusterRoleBinding', 'dns-tuner');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'dns-tuner' });
    expect(binding.subjects).toEqual(subjects);
    // The kube-dns Service, the CoreDNS ConfigMap and the node-local DaemonSet: where the config's discovery looks.
    const kubeSystem = findObject<V1Role>(objects, 'Role', 'dns-tuner-cluster-dns');
    expect(kubeSystem.metadata?.namespace).toBe('kube-system');
    expect(kubeSystem.rules).toEqual([
      { apiGroups: [''], resources: ['services', 'configmaps'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get', 'list', 'watch'] },
    ]);
    const roleBinding = findObject<V1RoleBinding>(objects, 'RoleBinding', 'dns-tuner-cluster-dns');
    expect(roleBinding.metadata?.namespace).toBe('kube-system');
    expect(roleBinding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'dns-tuner-cluster-dns',
    });
    expect(roleBinding.subjects).toEqual(subjects);
    // Read-only, and nothing dns-tuner does not read.
    for (const rule of [...(role.rules ?? []), ...(kubeSystem.rules ?? [])]) {
      expect(rule.verbs.every((v) => ['get', 'list', 'watch'].includes(v))).toBe(true);
      expect(rule.resources).not.toContain('secrets');
      expect(rule.resources).not.toContain('pods');
    }
    // Everything else stays in dns-tuner.
    for (const o of objects.filter((o) => o.metadata?.namespace !== undefined && !/Role/.test(o.kind))) {
      expect(o.metadata?.namespace, `${o.kind}/${o.metadata?.name}`).toBe(NAMESPACE);
    }
    findObject(objects, 'ServiceAccount', 'dns-tuner');
    const { deployment } = deploymentOf(objects);
    const pod = deployment.spec!.template.spec!;
    expect(pod.serviceAccountName).toBe('dns-tuner');
    expect(pod.automountServiceAccountToken).toBe(true); // the namespace informer needs the token
  });

  it('namespace enforces Pod Security "restricted"', () => {
    const ns = findObject<V1Namespace>(rendered[variant], 'Namespace', NAMESPACE);
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('pod and container security contexts meet "restricted" and more', () => {
    const { deployment, container } = deploymentOf(rendered[variant]);
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostPID ?? false).toBe(false);
    expect(pod.hostIPC ?? false).toBe(false);
    expect(pod.volumes?.filter((v) => v.hostPath)).toEqual([]);
    expect(pod.initContainers ?? []).toEqual([]);
    const sc = container.securityContext;
    expect(sc?.allowPrivilegeEscalation).toBe(false);
    expect(sc?.readOnlyRootFilesystem).toBe(true);
    expect(sc?.privileged ?? false).toBe(false);
    expect(sc?.capabilities?.drop).toEqual(['ALL']);
    expect(sc?.capabilities?.add ?? []).toEqual([]);
    expect(sc?.runAsUser ?? pod.securityContext?.runAsUser).toBe(65532);
    expect(sc?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot).toBe(true);
    expect((sc?.seccompProfile ?? pod.securityContext?.seccompProfile)?.type).toBe('RuntimeDefault');
  });

  it('two or more replicas, spread over nodes, with a PDB that lets drains proceed', () => {
    const objects = rendered[variant];
    const { deployment } = deploymentOf(objects);
    const replicas = deployment.spec!.replicas!;
    const podLabels = deployment.spec!.template.metadata!.labels!;
    expect(replicas).toBeGreaterThanOrEqual(2);
    const spread = deployment.spec!.template.spec!.topologySpreadConstraints ?? [];
    const byHost = spread.find((c) => c.topologyKey === 'kubernetes.io/hostname');
    expect(byHost).toBeDefined();
    expect(matchesSelector(byHost!.labelSelector, podLabels)).toBe(true);
    expect(matchesSelector(deployment.spec!.selector, podLabels)).toBe(true);

    const pdb = findObject<V1PodDisruptionBudget>(objects, 'PodDisruptionBudget', 'dns-tuner');
    expect(matchesSelector(pdb.spec!.selector, podLabels)).toBe(true);
    const { maxUnavailable, minAvailable } = pdb.spec!;
    expect(maxUnavailable === undefined).not.toBe(minAvailable === undefined); // exactly one
    // Allowed disruptions with all replicas healthy: at least one (drains proceed), at most replicas-1 (one stays up).
    const allowed = maxUnavailable !== undefined ? Number(maxUnavailable) : replicas - Number(minAvailable);
    expect(allowed).toBeGreaterThanOrEqual(1);
    expect(allowed).toBeLessThanOrEqual(replicas - 1);
  });

  it('a NetworkPolicy admits the webhook port from anywhere (the apiserver) and the ops port from the cluster', () => {
    const objects = rendered[variant];
    const { container } = deploymentOf(objects);
    const podLabels = deploymentOf(objects).deployment.spec!.template.metadata!.labels ?? {};
    const policy = findObject<V1NetworkPolicy>(objects, 'NetworkPolicy', 'dns-tuner');
    expect(matchesSelector(policy.spec!.podSelector, podLabels)).toBe(true);
    expect(policy.spec!.policyTypes).toEqual(['Ingress']);
    const portOf = (name: string) => container.ports?.find((p) => p.name === name);
    // The YAML's `from` (the client type calls it `_from`).
    const rules = (policy.spec!.ingress ?? []) as Array<{ from?: unknown[]; ports?: Array<{ port?: unknown }> }>;
    // Each named port resolves to a container port; the webhook's rule has no `from` (every source).
    const webhookRule = rules.find((r) => r.ports?.some((p) => p.port === 'https'));
    expect(portOf('https')?.containerPort).toBe(9443);
    expect(webhookRule?.from ?? []).toEqual([]);
    const opsRule = rules.find((r) => r.ports?.some((p) => p.port === 'ops'));
    expect(portOf('ops')?.containerPort).toBe(8080);
    expect(opsRule?.from).toEqual([{ namespaceSelector: {} }]);
    expect(rules).toHaveLength(2);
  });

  it("the binary's own flag parser accepts the container args, and they match the ports and mounts", () => {
    const { container } = deploymentOf(rendered[variant]);
    // No env: the args alone must be complete (the Deployment sets only NODE_OPTIONS).
    expect(container.env?.map((e) => e.name)).toEqual(['NODE_OPTIONS']);
    const parsed = parseFlags(container.args ?? [], {});
    expect(parsed.ok ? 'ok' : parsed.error).toBe('ok');
    if (!parsed.ok || parsed.help) return;
    expect(parsed.flags).toMatchObject({
      config: '/etc/dns-tuner/config/config.yaml',
      tlsCert: '/etc/dns-tuner/tls/tls.crt',
      tlsKey: '/etc/dns-tuner/tls/tls.key',
      port: containerPort(container, 'https'),
      opsPort: containerPort(container, 'ops'),
    });
    expect(parsed.flags.namespaces).toBeUndefined(); // in-cluster: watch Namespaces with the service account
    expect(parsed.flags.kubeconfig).toBeUndefined();
  });

  it('probes hit the ops port: /livez for startup and liveness, /readyz for readiness', () => {
    const { container } = deploymentOf(rendered[variant]);
    const ops = Number(flag(container, 'ops-port'));
    expect(ops).toBe(8080);
    expect(probeTarget(container, container.startupProbe)).toEqual({ path: '/livez', port: ops });
    expect(probeTarget(container, container.livenessProbe)).toEqual({ path: '/livez', port: ops });
    expect(probeTarget(container, container.readinessProbe)).toEqual({ path: '/readyz', port: ops });
  });

  it('requests and limits CPU and memory', () => {
    const { container } = deploymentOf(rendered[variant]);
    for (const kind of ['requests', 'limits'] as const) {
      expect(Object.keys(container.resources?.[kind] ?? {}).sort(), kind).toEqual(['cpu', 'memory']);
    }
  });

  it('grace period covers the drain delay plus the longest in-flight review', () => {
    const objects = rendered[variant];
    const { deployment, container } = deploymentOf(objects);
    const drain = Number(flag(container, 'drain-delay') ?? 5);
    const timeout = webhookOf(objects).webhook.timeoutSeconds!;
    expect(deployment.spec!.template.spec!.terminationGracePeriodSeconds).toBeGreaterThan(drain + timeout);
  });

  it('mounts the config and TLS where the flags point, as whole directories (so updates reach the pod)', () => {
    const objects = rendered[variant];
    const { deployment, container } = deploymentOf(objects);
    const volumes = deployment.spec!.template.spec!.volumes ?? [];
    const mountOf = (file: string | undefined) => {
      const mount = container.volumeMounts?.find((m) => m.mountPath === dirname(file ?? ''));
      expect(mount, `a volume mounted at ${dirname(file ?? '')}`).toBeDefined();
      expect(mount?.subPath).toBeUndefined();
      return volumes.find((v) => v.name === mount?.name);
    };
    const tls = mountOf(flag(container, 'tls-cert'));
    expect(mountOf(flag(container, 'tls-key'))).toBe(tls);
    expect(tls?.secret?.secretName).toBe('dns-tuner-tls');
    expect(flag(container, 'tls-cert')).toMatch(/\/tls\.crt$/);
    expect(flag(container, 'tls-key')).toMatch(/\/tls\.key$/);

    const config = mountOf(flag(container, 'config'));
    const configMap = findObject<V1ConfigMap>(objects, 'ConfigMap');
    expect(config?.configMap?.name).toBe(configMap.metadata?.name);
    expect(Object.keys(configMap.data ?? {})).toEqual([flag(container, 'config')!.split('/').pop()]);
    // Read-only root filesystem: anything writable is an explicit emptyDir.
    const writable = (container.volumeMounts ?? []).filter((m) => !m.readOnly);
    for (const m of writable) expect(volumes.find((v) => v.name === m.name)?.emptyDir).toBeDefined();
  });
});

// ---- the policy config -------------------------------------------------------------------------------------------

describe('the policy config shipped in the ConfigMap', () => {
  it('manifests/base/config.yaml is byte for byte examples/config.yaml', async () => {
    const [copy, example] = await Promise.all([
      readFile(join(repo, 'manifests', 'base', 'config.yaml')),
      readFile(join(repo, 'examples', 'config.yaml')),
    ]);
    expect(
      copy.equals(example),
      'manifests/base/config.yaml differs: cp examples/config.yaml manifests/base/config.yaml',
    ).toBe(true);
  });

  it('renders unchanged into the ConfigMap and passes the config schema', async () => {
    const example = await readFile(join(repo, 'examples', 'config.yaml'), 'utf8');
    for (const variant of VARIANTS) {
      const data = findObject<V1ConfigMap>(rendered[variant], 'ConfigMap').data?.['config.yaml'];
      expect(data).toBe(example);
      const parsed = parseConfig(parseYaml(data!));
      expect(parsed.ok ? 'ok' : parsed.error).toBe('ok');
    }
  });

  it('a user overlay can replace it as manifests/README.md shows, and the pods follow the new name', async () => {
    const mine = join(tmp, 'my-overlay');
    await mkdir(mine);
    await writeFile(
      join(mine, 'kustomization.yaml'),
      [
        'resources: [../manifests/overlays/self-signed]',
        'configMapGenerator:',
        '  - name: dns-tuner-config',
        '    namespace: dns-tuner',
        '    behavior: replace',
        '    files: [config.yaml]',
        '',
      ].join('\n'),
    );
    await writeFile(join(mine, 'config.yaml'), 'clusterDomain: cluster.local\nclusterDNS: 10.0.0.10\n');
    const objects = await kustomize(mine);
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap') as V1ConfigMap[];
    expect(configMaps).toHaveLength(1);
    expect(configMaps[0]!.data?.['config.yaml']).toContain('10.0.0.10');
    const { deployment } = deploymentOf(objects);
    const volume = deployment.spec!.template.spec!.volumes!.find((v) => v.name === 'config');
    expect(volume?.configMap?.name).toBe(configMaps[0]!.metadata?.name);
    expect(volume?.configMap?.name).not.toBe(findObject<V1ConfigMap>(rendered.base, 'ConfigMap').metadata?.name);
  });
});

// ---- certificate wiring, per overlay -----------------------------------------------------------------------------

describe('certificate wiring', () => {
  it('base: no CA and no Secret (an overlay provides them)', () => {
    const { config, webhook } = webhookOf(rendered.base);
    expect(webhook.clientConfig.caBundle).toBeUndefined();
    expect(config.metadata?.annotations?.['cert-manager.io/inject-ca-from']).toBeUndefined();
    expect(rendered.base.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('cert-manager: cainjector fills caBundle from the serving Certificate, issued by a private CA chain', () => {
    const objects = rendered['cert-manager'];
    const { config, webhook } = webhookOf(objects);
    expect(webhook.clientConfig.caBundle).toBeUndefined(); // owned by cainjector; a static one would fight it
    const inject = config.metadata?.annotations?.['cert-manager.io/inject-ca-from'];
    expect(inject).toBe('dns-tuner/dns-tuner-serving');
    const [ns, name] = inject!.split('/');
    const serving = findObject<CertManagerCertificate>(objects, 'Certificate', name);
    expect(serving.metadata.namespace).toBe(ns);

    // The Secret the pods mount, for the name the apiserver dials.
    const { deployment } = deploymentOf(objects);
    const tlsVolume = deployment.spec!.template.spec!.volumes!.find((v) => v.secret);
    expect(serving.spec.secretName).toBe(tlsVolume?.secret?.secretName);
    const svc = webhook.clientConfig.service!;
    expect(serving.spec.dnsNames).toContain(`${svc.name}.${svc.namespace}.svc`);
    expect(serving.spec.isCA ?? false).toBe(false);
    expect(serving.spec.usages).toContain('server auth');

    // serving <- CA Issuer <- CA Certificate <- self-signed Issuer, all in the webhook's namespace.
    const caIssuer = findObject<CertManagerIssuer>(objects, 'Issuer', serving.spec.issuerRef.name);
    expect(serving.spec.issuerRef.kind).toBe('Issuer');
    expect(caIssuer.metadata.namespace).toBe(ns);
    expect('ca' in caIssuer.spec).toBe(true);
    const caSecret = 'ca' in caIssuer.spec ? caIssuer.spec.ca.secretName : '';
    const ca = findObject<CertManagerCertificate>(objects, 'Certificate', 'dns-tuner-ca');
    expect(ca.spec.secretName).toBe(caSecret);
    expect(ca.spec.isCA).toBe(true);
    const root = findObject<CertManagerIssuer>(objects, 'Issuer', ca.spec.issuerRef.name);
    expect(root.spec).toEqual({ selfSigned: {} });

    // Rotation: renew well before expiry, and the CA outlives many serving certificates.
    const hours = (d: string) => {
      const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d)!;
      return Number(m[1] ?? 0) + Number(m[2] ?? 0) / 60 + Number(m[3] ?? 0) / 3600;
    };
    for (const cert of [serving, ca]) {
      expect(hours(cert.spec.renewBefore)).toBeGreaterThan(0);
      expect(hours(cert.spec.renewBefore)).toBeLessThan(hours(cert.spec.duration));
    }
    expect(hours(serving.spec.duration)).toBeLessThanOrEqual(365 * 24);
    expect(hours(ca.spec.duration)).toBeGreaterThan(4 * hours(serving.spec.duration));
  });

  it('self-signed: caBundle is the CA that signed the mounted serving certificate', () => {
    const objects = rendered['self-signed'];
    const { config, webhook } = webhookOf(objects);
    expect(config.metadata?.annotations?.['cert-manager.io/inject-ca-from']).toBeUndefined();
    const secret = findObject<V1Secret>(objects, 'Secret', 'dns-tuner-tls');
    expect(secret.metadata?.namespace).toBe(NAMESPACE);
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    const caBundle = webhook.clientConfig.caBundle;
    expect(caBundle).toBe(secret.data!['ca.crt']);

    const pem = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
    const cas = pem(caBundle!).match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    expect(cas.length).toBeGreaterThanOrEqual(1);
    const ca = new X509Certificate(cas[0]!);
    expect(ca.ca).toBe(true);
    const serving = new X509Certificate(pem(secret.data!['tls.crt']!));
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.checkIssued(ca)).toBe(true);
    const svc = webhook.clientConfig.service!;
    expect(serving.checkHost(`${svc.name}.${svc.namespace}.svc`)).toBe(`${svc.name}.${svc.namespace}.svc`);
    expect(serving.ca).toBe(false);
    expect(serving.checkPrivateKey(createPrivateKey(pem(secret.data!['tls.key']!)))).toBe(true);
    // The Deployment mounts this Secret.
    const { deployment } = deploymentOf(objects);
    expect(deployment.spec!.template.spec!.volumes!.some((v) => v.secret?.secretName === 'dns-tuner-tls')).toBe(true);
  });

  it('self-signed: without the script output the overlay refuses to render, naming the missing file', async () => {
    const bare = await mkdtemp(join(tmpdir(), 'dns-tuner-bare-'));
    try {
      await cp(join(tmp, 'manifests'), join(bare, 'manifests'), {
        recursive: true,
        filter: (src) => !src.includes(join('self-signed', 'generated')),
      });
      await expect(kustomize(join(bare, 'manifests', 'overlays', 'self-signed'))).rejects.toThrow(
        /generated\/tls\.crt/,
      );
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
});
