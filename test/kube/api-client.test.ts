/**
 * The API client against the fake API server (test/support/fake-kube-api.ts, the real wire protocol): every kind by
 * path, paging, selectors, errors that carry their status, and the watch stream's ways of ending.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../lab/eventually.ts';
import {
  collectionPath,
  type FakeKubeApi,
  RESOURCES,
  type Resource,
  startFakeKubeApi,
} from '../../lab/fake-kube-api.ts';
import {
  type ApiClient,
  type ApiConnection,
  ApiError,
  createApiClient,
  type ListPage,
  RequestTimeoutError,
  type WatchEvent,
  WatchInactivityError,
} from '../../src/kube/api-client.ts';
import { connectionOf, loadKubeConfig } from '../../src/kube/kubeconfig.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((err: unknown) => errors.push(err));
  if (errors.length > 0) throw errors[0];
});

async function setup(): Promise<{ fake: FakeKubeApi; client: ApiClient; connection: ApiConnection }> {
  const fake = await startFakeKubeApi();
  cleanups.push(() => fake.close());
  for (const ns of ['shop', 'edge']) fake.create(ns);
  const connection = connectionOf(loadKubeConfig({ kubeconfig: fake.kubeconfigPath, env: {} }));
  return { fake, client: createApiClient(connection), connection };
}

async function pages(iterable: AsyncIterable<ListPage>): Promise<ListPage[]> {
  const all: ListPage[] = [];
  for await (const page of iterable) all.push(page);
  return all;
}

const names = (items: unknown[]) => items.map((i) => (i as { metadata: { name: string } }).metadata.name);

/** Rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function pod(name: string, namespace: string, labels: Record<string, string> = {}, nodeName = 'node-1') {
  return { metadata: { name, namespace, labels }, spec: { nodeName, containers: [{ name: 'app', image: 'app' }] } };
}

describe('API client: every kind by path', () => {
  it('lists across namespaces and in one, and GETs one object, for each kind the fake serves', async () => {
    const { fake, client } = await setup();
    const kinds = Object.keys(RESOURCES).filter((r) => r !== 'namespaces') as Resource[];
    for (const resource of kinds) {
      for (const ns of ['shop', 'edge'])
        fake.createObject(resource, { metadata: { name: `${resource}-a`, namespace: ns } });
    }
    for (const resource of kinds) {
      const { kind, group, version } = RESOURCES[resource];
      const everywhere = await pages(client.list(collectionPath(resource)));
      expect(everywhere).toHaveLength(1);
      expect(everywhere[0]!.items.map((i) => (i as { metadata: { namespace: string } }).metadata.namespace)).toEqual([
        'edge',
        'shop',
      ]);
      const inShop = await pages(client.list(collectionPath(resource, 'shop')));
      expect(names(inShop[0]!.items)).toEqual([`${resource}-a`]);
      const got = await client.get(`${collectionPath(resource, 'edge')}/${resource}-a`);
      expect(got).toMatchObject({
        found: true,
        object: { kind, apiVersion: group ? `${group}/${version}` : version, metadata: { namespace: 'edge' } },
      });
      expect(await client.get(`${collectionPath(resource, 'edge')}/nope`)).toEqual({ found: false });
    }
    expect(collectionPath('networkpolicies', 'shop')).toBe(
      '/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies',
    );
    expect(await client.get('/api/v1/namespaces/shop')).toMatchObject({ found: true, object: { kind: 'Namespace' } });
    // A kind the server does not serve, or a path of the wrong shape, is a 404 from the server.
    expect(await client.get('/api/v1/namespaces/shop/secrets/x')).toEqual({ found: false });
    await expect(pages(client.list('/apis/apps/v1/namespaces/shop/pods'))).rejects.toThrow(/HTTP 404/);
  });

  it('pages with limit and continue, and starts over when the continue token outlived compaction', async () => {
    const { fake, client } = await setup();
    for (let i = 0; i < 5; i++) fake.createObject('pods', pod(`p${i}`, i % 2 ? 'shop' : 'edge'));
    const all = await pages(client.list('/api/v1/pods', { pageSize: 2 }));
    expect(all.map((p) => [p.first, names(p.items)])).toEqual([
      [true, ['p0', 'p2']],
      [false, ['p4', 'p1']],
      [false, ['p3']],
    ]);
    expect(new Set(all.map((p) => p.resourceVersion))).toEqual(new Set([String(fake.resourceVersion)]));

    const iterator = client.list('/api/v1/pods', { pageSize: 2 })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ first: true });
    fake.createObject('pods', pod('p5', 'shop'));
    fake.compact();
    const rest: ListPage[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value);
    expect(fake.counts.expired).toBe(1);
    // The list began again: a first page, and the pod created meanwhile is in it.
    expect(rest[0]!.first).toBe(true);
    expect(rest.flatMap((p) => names(p.items)).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    const queries = fake.requests.filter((r) => r.kind === 'list').map((r) => r.query);
    expect(queries.every((q) => q.limit === '2' && q.resourceVersion === undefined)).toBe(true);
  });

  it('sends label and field selectors, which the server applies', async () => {
    const { fake, client } = await setup();
    fake.createObject('pods', pod('web', 'shop', { app: 'web', tier: 'front' }));
    fake.createObject('pods', pod('db', 'shop', { app: 'db' }, 'node-2'));
    fake.createObject('pods', pod('bare', 'edge'));
    const select = async (query: { labelSelector?: string; fieldSelector?: string }) =>
      names((await pages(client.list('/api/v1/pods', query))).flatMap((p) => p.items));
    expect(await select({ labelSelector: 'app=web' })).toEqual(['web']);
    expect(await select({ labelSelector: 'app in (web, db),tier' })).toEqual(['web']);
    expect(await select({ labelSelector: 'app notin (web)' })).toEqual(['bare', 'db']);
    expect(await select({ labelSelector: '!app' })).toEqual(['bare']);
    expect(await select({ labelSelector: 'app!=web' })).toEqual(['bare', 'db']);
    expect(await select({ fieldSelector: 'spec.nodeName=node-2' })).toEqual(['db']);
    expect(await select({ fieldSelector: 'metadata.namespace!=shop' })).toEqual(['bare']);
    expect(fake.requests.at(-1)!.query).toMatchObject({ fieldSelector: 'metadata.namespace!=shop' });

    const bad = await rejection(select({ labelSelector: 'app in web' }));
    expect(bad).toBeInstanceOf(ApiError);
    expect(bad).toMatchObject({ status: 400, reason: 'BadRequest', message: expect.stringMatching(/^HTTP 400: /) });
    await expect(pages(client.list('/api/v1/services', { fieldSelector: 'spec.nodeName=x' }))).rejects.toThrow(
      'HTTP 400: field label not supported: spec.nodeName',
    );
  });

  it('asks for metadata only when told to', async () => {
    const { fake, client } = await setup();
    fake.createObject('deployments', { metadata: { name: 'web', namespace: 'shop' }, spec: { replicas: 2 } });
    const full = await client.get('/apis/apps/v1/namespaces/shop/deployments/web');
    expect(full).toMatchObject({ found: true, object: { kind: 'Deployment', spec: { replicas: 2 } } });
    expect(fake.requests.at(-1)!.accept).toBe('application/json');

    const meta = await client.get('/apis/apps/v1/namespaces/shop/deployments/web', { metadataOnly: true });
    expect(meta).toEqual({
      found: true,
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: expect.any(Object) },
    });
    expect(fake.requests.at(-1)!.accept).toMatch(/^application\/json;as=PartialObjectMetadata;g=meta\.k8s\.io;v=v1,/);
    const [page] = await pages(client.list('/apis/apps/v1/deployments', { metadataOnly: true }));
    expect(page!.items).toEqual([{ metadata: expect.objectContaining({ name: 'web' }) }]);
    expect(fake.requests.at(-1)!.accept).toMatch(/as=PartialObjectMetadataList;/);
  });
});

describe('API client: errors carry the status', () => {
  it('answers 403 per namespace, and for the cluster-wide request that would include it', async () => {
    const { fake, client } = await setup();
    fake.createObject('pods', pod('web', 'shop'));
    fake.deny({ resource: 'pods', namespace: 'kube-system' });
    expect(names((await pages(client.list('/api/v1/namespaces/shop/pods')))[0]!.items)).toEqual(['web']);

    const denied = await rejection(pages(client.list('/api/v1/namespaces/kube-system/pods')));
    expect(denied).toBeInstanceOf(ApiError);
    expect(denied).toMatchObject({
      status: 403,
      reason: 'Forbidden',
      message:
        'HTTP 403: pods is forbidden: User "system:serviceaccount:dns-tuner:dns-tuner" cannot list resource "pods" ' +
        'in API group "" in the namespace "kube-system"',
    });
    expect(await rejection(pages(client.list('/api/v1/pods')))).toMatchObject({ status: 403 });
    expect(await rejection(client.get('/api/v1/namespaces/kube-system/pods/x'))).toMatchObject({ status: 403 });
    // Other kinds, and the same kind in other namespaces, are untouched.
    expect(await pages(client.list('/api/v1/namespaces/kube-system/services'))).toHaveLength(1);
    expect(fake.counts.forbidden).toBe(3);

    fake.allowAll();
    expect(await pages(client.list('/api/v1/pods'))).toHaveLength(1);
    fake.deny({ resource: 'services', verb: 'watch' });
    expect(await pages(client.list('/api/v1/services'))).toHaveLength(1);
    expect(await rejection(client.watch('/api/v1/services'))).toMatchObject({ status: 403 });
  });

  it('answers 401 without the right token, and 500 with the Status message', async () => {
    const { fake, client } = await setup();
    const unauthenticated = createApiClient(connectionOf(loadKubeConfig({ kubeconfig: fake.badTokenKubeconfigPath })));
    expect(await rejection(unauthenticated.get('/api/v1/namespaces/shop'))).toMatchObject({
      name: 'ApiError',
      status: 401,
      message: 'HTTP 401: Unauthorized',
    });
    fake.setFault('get', 'error');
    expect(await rejection(client.get('/api/v1/namespaces/shop'))).toMatchObject({
      status: 500,
      reason: 'InternalError',
      message: 'HTTP 500: Internal error occurred: injected fault',
    });
  });

  it('times out, or gives up when the caller aborts, with the reason', async () => {
    const { fake, client } = await setup();
    fake.setFault('get', { delayMs: 2000 });
    const slow = await rejection(client.get('/api/v1/namespaces/shop', { timeoutMs: 100 }));
    expect(slow).toBeInstanceOf(RequestTimeoutError);
    expect(slow).toMatchObject({ message: 'timed out after 100 ms' });
    const reason = new Error('caller gave up');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 50);
    expect(await rejection(client.get('/api/v1/namespaces/shop', { signal: controller.signal }))).toBe(reason);
    fake.setFault('list', 'reset');
    expect(await rejection(pages(client.list('/api/v1/pods')))).toMatchObject({ code: 'ECONNRESET' });
    await eventually(() => expect(fake.openConnections).toBe(0));
  });

  it('takes fresh credentials for every request (a rotated token is used at once)', async () => {
    const { fake, connection } = await setup();
    let token = 'expired-token';
    let calls = 0;
    const rotating: ApiConnection = {
      server: connection.server,
      async authorize(options) {
        calls++;
        await connection.authorize(options);
        if (token === 'expired-token') options.headers = { ...options.headers, Authorization: `Bearer ${token}` };
      },
    };
    const client = createApiClient(rotating);
    expect(await rejection(client.get('/api/v1/namespaces/shop'))).toMatchObject({ status: 401 });
    token = 'current';
    expect(await client.get('/api/v1/namespaces/shop')).toMatchObject({ found: true });
    await pages(client.list('/api/v1/namespaces', { pageSize: 2 }));
    expect(calls).toBe(2 + 3);
    expect(fake.counts.unauthorized).toBe(1);
  });
});

describe('API client: watch', () => {
  async function collect(stream: AsyncIterable<WatchEvent>, into: WatchEvent[]): Promise<unknown> {
    try {
      for await (const event of stream) into.push(event);
      return 'ended';
    } catch (error) {
      return error;
    }
  }

  it('decodes events and bookmarks, asks as an informer does, and ends when the server ends the stream', async () => {
    const { fake, client } = await setup();
    const from = String(fake.resourceVersion);
    const stream = await client.watch('/apis/apps/v1/namespaces/shop/deployments', {
      resourceVersion: from,
      timeoutSeconds: 1,
      labelSelector: 'app',
    });
    const events: WatchEvent[] = [];
    const done = collect(stream, events);
    fake.createObject('deployments', { metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } } });
    fake.createObject('deployments', { metadata: { name: 'other', namespace: 'edge', labels: { app: 'web' } } });
    fake.createObject('deployments', { metadata: { name: 'unlabelled', namespace: 'shop' } });
    fake.updateObject('deployments', { metadata: { name: 'web', namespace: 'shop' }, spec: { replicas: 3 } });
    // Leaving the selector is a DELETED, entering it an ADDED (the watch cache's filtering).
    fake.updateObject('deployments', { metadata: { name: 'web', namespace: 'shop', labels: {} } });
    fake.updateObject('deployments', { metadata: { name: 'unlabelled', namespace: 'shop', labels: { app: 'x' } } });
    fake.deleteObject('deployments', 'unlabelled', 'shop');
    fake.bookmark();
    expect(await done).toBe('ended');
    expect(events.map((e) => (e.type === 'BOOKMARK' ? `BOOKMARK ${e.resourceVersion}` : e.type))).toEqual([
      'ADDED',
      'MODIFIED',
      'DELETED',
      'ADDED',
      'DELETED',
      `BOOKMARK ${fake.resourceVersion}`,
    ]);
    expect(events[1]).toMatchObject({ object: { kind: 'Deployment', spec: { replicas: 3 } } });
    expect(fake.requests.find((r) => r.kind === 'watch')!.query).toEqual({
      watch: '1',
      resourceVersion: from,
      allowWatchBookmarks: 'true',
      timeoutSeconds: '1',
      labelSelector: 'app',
    });
    await eventually(() => expect(fake.openConnections).toBe(0));
  });

  it('starts from the current state when no resourceVersion is given', async () => {
    const { fake, client } = await setup();
    fake.createObject('configmaps', {
      metadata: { name: 'coredns', namespace: 'kube-system' },
      data: { Corefile: '.' },
    });
    const stream = await client.watch('/api/v1/configmaps', { timeoutSeconds: 1 });
    const events: WatchEvent[] = [];
    expect(await collect(stream, events)).toBe('ended');
    expect(events).toEqual([{ type: 'ADDED', object: expect.objectContaining({ data: { Corefile: '.' } }) }]);
  });

  it('refuses an expired resourceVersion with a 410 status, or with an ERROR event', async () => {
    const { fake, client } = await setup();
    const old = String(fake.resourceVersion);
    fake.create('later');
    fake.compact();
    const gone = await rejection(client.watch('/api/v1/namespaces', { resourceVersion: old }));
    expect(gone).toBeInstanceOf(ApiError);
    expect(gone).toMatchObject({ status: 410, reason: 'Expired' });

    fake.expiredAs = 'event';
    const events: WatchEvent[] = [];
    expect(await collect(await client.watch('/api/v1/namespaces', { resourceVersion: old }), events)).toBe('ended');
    expect(events).toEqual([
      { type: 'ERROR', status: { code: 410, reason: 'Expired', message: expect.stringMatching(/too old/) } },
    ]);
  });

  it('throws a WatchInactivityError when nothing comes, before or after the response head', async () => {
    const { fake, client } = await setup();
    const stream = await client.watch('/api/v1/namespaces', { resourceVersion: '1', inactivityTimeoutMs: 300 });
    const events: WatchEvent[] = [];
    const started = Date.now();
    const done = collect(stream, events);
    await eventually(() => expect(events.length).toBeGreaterThan(0)); // history after rv 1
    fake.hangWatches(true);
    fake.create('unseen');
    const error = await done;
    expect(error).toBeInstanceOf(WatchInactivityError);
    expect(error).toMatchObject({ message: 'no event or bookmark for 300 ms' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    fake.hangWatches(false);

    fake.setFault('watch', 'hang');
    expect(await rejection(client.watch('/api/v1/namespaces', { inactivityTimeoutMs: 200 }))).toBeInstanceOf(
      WatchInactivityError,
    );
    await eventually(() => expect(fake.openConnections).toBe(0));
  });

  it('says a dropped connection closed mid-stream, ends with the abort reason, and frees the connection', async () => {
    const { fake, client } = await setup();
    const events: WatchEvent[] = [];
    const dropped = collect(await client.watch('/api/v1/namespaces', { resourceVersion: '1' }), events);
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.dropWatches();
    expect(await dropped).toMatchObject({ message: 'connection closed mid-stream' });

    const controller = new AbortController();
    const reason = new Error('periodic relist');
    const aborted = collect(await client.watch('/api/v1/namespaces', { signal: controller.signal }), events);
    await eventually(() => expect(fake.openWatches).toBe(1));
    controller.abort(reason);
    expect(await aborted).toBe(reason);

    // Breaking out of the iteration releases the connection too.
    const stream = await client.watch('/api/v1/namespaces', {});
    for await (const _event of stream) break;
    await eventually(() => expect(fake.openWatches).toBe(0));
    await eventually(() => expect(fake.openConnections).toBe(0));
  });
});
