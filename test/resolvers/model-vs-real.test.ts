/**
 * The lookup model (src/resolver-model/query-cost.ts) against the REAL resolvers: for every variant in
 * lab/resolver-variants.ts and every name form, glibc (getaddrinfo via Node's dns.lookup) and musl
 * (musl-gcc -static) resolve inside `unshare -mn` against one dnsmasq per nameserver. The queries each server logged
 * (plus what an iptables DROP rule caught) must equal the model's per-nameserver counts, the names asked must be the
 * model's candidates, and resolves / does-not-resolve / crashes must match.
 *
 * Needs root and `apt-get install -y dnsmasq-base musl-tools iptables`; fails (never skips) without them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLabPrerequisites, buildMuslLookup, type LabLookupResult, runLab, sentTo } from '../../lab/dns-lab.ts';
import {
  ABORTING_DOMAIN,
  KUBE_DNS,
  LONG_NAMESPACE,
  NODE_LOCAL,
  type ResolverVariant,
  VARIANTS,
  worldFromRecords,
} from '../../lab/resolver-variants.ts';
import {
  glibcSearchListAborts,
  type LookupCost,
  lookupCost,
  resolverSettings,
} from '../../src/resolver-model/query-cost.ts';

let dir = '';
let muslBinary = '';

beforeAll(async () => {
  assertLabPrerequisites();
  dir = mkdtempSync(join(tmpdir(), 'model-vs-real-'));
  muslBinary = await buildMuslLookup(dir);
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** What a lookup sent to each nameserver: what the server logged plus what the DROP rule swallowed. */
function sent(real: LabLookupResult, servers: readonly string[]): Record<string, number> {
  return Object.fromEntries(servers.map((s) => [s, sentTo(real, s)]));
}

function observed(real: LabLookupResult, servers: readonly string[]) {
  return { perNameserver: sent(real, servers), resolves: real.resolved, crashes: real.crashed !== undefined };
}

function predicted(model: LookupCost) {
  return { perNameserver: model.perNameserver, resolves: model.resolves, crashes: model.outcome === 'crash' };
}

async function runVariant(v: ResolverVariant) {
  const resolvers = v.resolvers ?? ['glibc', 'musl'];
  const result = await runLab(
    {
      resolvConf: v.text,
      servers: v.conf.nameservers,
      records: v.records,
      drop: v.drop,
      lookups: v.names.flatMap((name) => resolvers.map((resolver) => ({ resolver, name }))),
      timeoutMs: 25_000,
    },
    { muslBinary },
  );
  return result.lookups;
}

/** Compares every lookup of a session with the model; `rotateStart` is glibc's random starting point (see below). */
function mismatches(v: ResolverVariant, lookups: LabLookupResult[], rotateStart = 0): string[] {
  const world = worldFromRecords(v.records, v.drop);
  const servers = v.conf.nameservers;
  const problems: string[] = [];
  let glibcNamesAsked = 0;
  for (const real of lookups) {
    const model = lookupCost(real.resolver, real.name, v.conf, world, {
      rotateOffset: rotateStart + glibcNamesAsked,
    });
    if (real.resolver === 'glibc') glibcNamesAsked += model.candidates.length;
    const want = predicted(model);
    const got = observed(real, servers);
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      problems.push(`${real.resolver} ${real.name}: model ${JSON.stringify(want)} real ${JSON.stringify(got)}`);
    }
    // The names asked (only what reached a server can be seen; dropped packets carry no name here).
    const askedReal = [...new Set(real.queries.map((q) => q.name))].sort();
    const askedModel = [...new Set(model.candidates.map((c) => c.name))].sort();
    if (!v.drop?.length && JSON.stringify(askedReal) !== JSON.stringify(askedModel)) {
      problems.push(
        `${real.resolver} ${real.name}: model asks ${askedModel.join(' ')} real asked ${askedReal.join(' ')}`,
      );
    }
  }
  return problems;
}

function counts(lookups: LabLookupResult[], resolver: 'glibc' | 'musl', names: string[], servers: string[]) {
  return names.map((name) => {
    const real = lookups.find((l) => l.resolver === resolver && l.name === name);
    if (real === undefined) throw new Error(`no ${resolver} lookup of ${name}`);
    return sent(real, servers);
  });
}

describe('model vs real glibc and musl', () => {
  const byLabel = (prefix: string) => {
    const v = VARIANTS.find((x) => x.label.startsWith(prefix));
    if (v === undefined) throw new Error(`no variant ${prefix}`);
    return v;
  };

  it('Kubernetes default: every form resolves on both; the measured 2 / 4 / 10 / 10 hold', async () => {
    const v = byLabel('Kubernetes default');
    expect(v.text).toBe(
      'search shop.svc.cluster.local svc.cluster.local cluster.local ec2.internal\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    const names = ['my-svc', 'api.payments', 'api.example.com', 's3.eu-west-1.amazonaws.com'];
    for (const resolver of ['glibc', 'musl'] as const) {
      expect(counts(lookups, resolver, names, [KUBE_DNS])).toEqual([2, 4, 10, 10].map((n) => ({ [KUBE_DNS]: n })));
    }
    expect(lookups.filter((l) => !l.resolved).map((l) => l.name)).toEqual(['does-not-exist', 'does-not-exist']);
  });

  it('dns-tuner default (None, node-local first, ndots:3): glibc asks only node-local, musl asks both', async () => {
    const v = byLabel('dns-tuner default');
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    for (const l of lookups.filter((x) => x.resolver === 'glibc')) expect(l.perServer[KUBE_DNS]).toBe(0);
    for (const l of lookups.filter((x) => x.resolver === 'musl')) {
      expect(l.perServer[KUBE_DNS]).toBe(l.perServer[NODE_LOCAL]);
    }
  });

  it('ndots:2: the measured glibc 2 / 4 / 2 / 2 and musl 4 / 8 / 4 / 4; musl loses svc.ns.svc', async () => {
    const v = byLabel('node-local + kube-dns, ndots:2');
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    const names = ['my-svc', 'api.payments', 'api.example.com', 's3.eu-west-1.amazonaws.com'];
    const servers = [NODE_LOCAL, KUBE_DNS];
    const total = (rows: Array<Record<string, number>>) => rows.map((r) => (r[NODE_LOCAL] ?? 0) + (r[KUBE_DNS] ?? 0));
    expect(total(counts(lookups, 'glibc', names, servers))).toEqual([2, 4, 2, 2]);
    expect(total(counts(lookups, 'musl', names, servers))).toEqual([4, 8, 4, 4]);
    const muslFailures = lookups.filter((l) => l.resolver === 'musl' && !l.resolved).map((l) => l.name);
    expect(muslFailures).toEqual(['my-svc.shop.svc', 'does-not-exist']);
  });

  it('ndots:1: musl loses svc.ns too', async () => {
    const v = byLabel('node-local + kube-dns, ndots:1');
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    const muslFailures = lookups.filter((l) => l.resolver === 'musl' && !l.resolved).map((l) => l.name);
    // `api.payments` has 1 dot: with ndots:1 musl asks it as-is only.
    expect(muslFailures).toEqual(['my-svc.shop', 'my-svc.shop.svc', 'api.payments', 'does-not-exist']);
  });

  it('a search line of 255+ bytes: musl ignores it (short names fail), glibc searches it', async () => {
    const v = byLabel('search line of 255+ bytes');
    expect(v.text.split('\n')[0]!.length).toBeGreaterThanOrEqual(255);
    expect(resolverSettings('musl', v.conf).searchLineIgnored).toBe(true);
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    const muslFailures = lookups.filter((l) => l.resolver === 'musl' && !l.resolved).map((l) => l.name);
    expect(muslFailures).toEqual([
      'my-svc',
      `my-svc.${LONG_NAMESPACE}`,
      `my-svc.${LONG_NAMESPACE}.svc`,
      'api.payments',
      'does-not-exist',
    ]);
  });

  it('glibc-only options: single-request-reopen keeps counts, no-aaaa halves them, no-tld-query skips as-is', async () => {
    const v = byLabel('glibc-only options');
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    const glibcMissing = lookups.find((l) => l.resolver === 'glibc' && l.name === 'does-not-exist');
    expect(glibcMissing?.queries.map((q) => q.name)).not.toContain('does-not-exist');
  });

  it('rotate: glibc starts each name one server further along, from one random point per process', async () => {
    const v = byLabel('rotate');
    const lookups = await runVariant(v);
    // glibc seeds its counter randomly: one of the starting points must explain the whole session.
    const fits = [0, 1].map((start) => mismatches(v, lookups, start));
    expect(
      fits.some((problems) => problems.length === 0),
      JSON.stringify(fits, null, 1),
    ).toBe(true);
  });

  it('a no-data answer ends the musl walk; glibc walks on and resolves', async () => {
    const v = byLabel('no-data answer');
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    const failures = (resolver: string) =>
      lookups.filter((l) => l.resolver === resolver && !l.resolved).map((l) => l.name);
    expect(failures('glibc')).toEqual(['does-not-exist']);
    // example.com.shop.svc.cluster.local is now an empty non-terminal: no-data too.
    expect(failures('musl')).toEqual(['example.com', 'api.example.com', 'does-not-exist']);
  });

  it('node-local dropping packets: glibc falls back after the timeout, musl never waits', async () => {
    const v = byLabel('node-local dropping');
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    expect(lookups.every((l) => l.resolved)).toBe(true);
    expect(lookups.every((l) => (l.dropped[NODE_LOCAL] ?? 0) > 0)).toBe(true);
  });

  it("glibc's search-list assertion: a 201-character node search domain aborts every glibc lookup", async () => {
    const v = byLabel('glibc search-list assertion');
    expect(v.conf.searches.at(-1)).toBe(ABORTING_DOMAIN);
    expect(glibcSearchListAborts(v.conf.searches)).toBe(true);
    const lookups = await runVariant(v);
    expect(mismatches(v, lookups)).toEqual([]);
    expect(lookups.filter((l) => l.resolver === 'glibc').map((l) => l.crashed)).toEqual([
      'SIGABRT',
      'SIGABRT',
      'SIGABRT',
    ]);
  });

  it('covers every variant', () => {
    expect(VARIANTS).toHaveLength(10);
  });
});
