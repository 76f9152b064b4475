/**
 * The glibc/musl lookup model: the measured table of shared/reference/resolvers.md, the search-walk rules that differ
 * between the two libraries, outages, and invariants over random resolv.conf files (fast-check).
 * test/resolvers/model-vs-real.test.ts checks the same model against the real libraries.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ResolvConf } from '../../src/core/resolv-conf.ts';
import type { ResolverOption } from '../../src/core/resolver-options.ts';
import { costTable } from '../../src/resolver-model/cost-table.ts';
import {
  DEFAULT_EXTERNAL_NAMES,
  defaultNameForms,
  defaultWorld,
  worldOf,
} from '../../src/resolver-model/name-forms.ts';
import {
  encodable,
  glibcSearchListAborts,
  lookupCost,
  resolverSettings,
  type World,
} from '../../src/resolver-model/query-cost.ts';
import {
  fallbackTimeoutWarning,
  formsLostBetween,
  muslBrokenForms,
  muslFanOutWarning,
  muslIgnoredOptions,
  muslSearchLineWarning,
  resolverWarnings,
} from '../../src/resolver-model/warnings.ts';

const NODE_LOCAL = '169.254.20.10';
const KUBE_DNS = '10.96.0.10';
const SEARCH = ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'ec2.internal'];

function options(text: string): ResolverOption[] {
  return text
    .split(' ')
    .filter(Boolean)
    .map((token) => {
      const [name, value] = token.split(':') as [string, string | undefined];
      return value === undefined ? { name } : { name, value };
    });
}

function conf(nameservers: string[], opts: string, searches = SEARCH): ResolvConf {
  return { nameservers, searches, options: options(opts) };
}

/** The world of the measurement: redis in shop, api in payments, two external names. */
const world = worldOf([
  'redis.shop.svc.cluster.local',
  'api.payments.svc.cluster.local',
  'api.example.com',
  's3.eu-west-1.amazonaws.com',
]);
const MEASURED_NAMES = ['redis', 'api.payments', 'api.example.com', 's3.eu-west-1.amazonaws.com'];

describe('the measured table (resolvers.md)', () => {
  it('ndots:5, kube-dns only: 2 / 4 / 10 / 10 for glibc and musl', () => {
    const c = conf([KUBE_DNS], 'ndots:5');
    for (const resolver of ['glibc', 'musl'] as const) {
      const costs = MEASURED_NAMES.map((name) => lookupCost(resolver, name, c, world));
      expect(costs.map((x) => x.total)).toEqual([2, 4, 10, 10]);
      expect(costs.map((x) => x.perNameserver)).toEqual([2, 4, 10, 10].map((n) => ({ [KUBE_DNS]: n })));
      expect(costs.every((x) => x.resolves)).toBe(true);
    }
  });

  it('ndots:2, [node-local, kube-dns]: glibc 2 / 4 / 2 / 2, all to node-local', () => {
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:2');
    const costs = MEASURED_NAMES.map((name) => lookupCost('glibc', name, c, world));
    expect(costs.map((x) => x.perNameserver)).toEqual([2, 4, 2, 2].map((n) => ({ [NODE_LOCAL]: n, [KUBE_DNS]: 0 })));
  });

  it('ndots:2, [node-local, kube-dns]: musl 4 / 8 / 4 / 4, half to each', () => {
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:2');
    const costs = MEASURED_NAMES.map((name) => lookupCost('musl', name, c, world));
    expect(costs.map((x) => x.total)).toEqual([4, 8, 4, 4]);
    expect(costs.map((x) => x.perNameserver)).toEqual([2, 4, 2, 2].map((n) => ({ [NODE_LOCAL]: n, [KUBE_DNS]: n })));
  });
});

describe('search walk', () => {
  const c5 = conf([KUBE_DNS], 'ndots:5');

  it('glibc tries a name with >= ndots dots as-is first, then the search list', () => {
    const cost = lookupCost('glibc', 'nope.example.org', conf([KUBE_DNS], 'ndots:2'), world);
    expect(cost.candidates.map((c) => c.name)).toEqual([
      'nope.example.org',
      ...SEARCH.map((d) => `nope.example.org.${d}`),
    ]);
    expect(cost).toMatchObject({ total: 10, resolves: false, outcome: 'nxdomain' });
  });

  it('musl never searches a name with >= ndots dots', () => {
    const cost = lookupCost('musl', 'nope.example.org', conf([KUBE_DNS], 'ndots:2'), world);
    expect(cost.candidates.map((c) => c.name)).toEqual(['nope.example.org']);
    expect(cost.total).toBe(2);
  });

  it('a trailing dot means as-is only, for both', () => {
    for (const resolver of ['glibc', 'musl'] as const) {
      const cost = lookupCost(resolver, 'redis.shop.svc.cluster.local.', c5, world);
      expect(cost.candidates).toEqual([{ name: 'redis.shop.svc.cluster.local', answer: 'address' }]);
      expect(cost.answeredBy).toBe('redis.shop.svc.cluster.local');
    }
  });

  it('with ndots:2 musl loses svc.ns.svc, with ndots:1 also svc.ns; glibc keeps both', () => {
    const w = worldOf(['redis.shop.svc.cluster.local']);
    for (const [ndots, lost] of [
      [2, ['redis.shop.svc']],
      [1, ['redis.shop', 'redis.shop.svc']],
    ] as const) {
      const c = conf([NODE_LOCAL, KUBE_DNS], `ndots:${ndots}`);
      const names = ['redis', 'redis.shop', 'redis.shop.svc', 'redis.shop.svc.cluster.local'];
      expect(names.filter((n) => !lookupCost('musl', n, c, w).resolves)).toEqual(lost);
      expect(names.every((n) => lookupCost('glibc', n, c, w).resolves)).toBe(true);
    }
  });

  it('a no-data answer ends the musl walk; glibc keeps going', () => {
    const w: World = {
      answer: (fqdn) =>
        fqdn === 'api.example.com.shop.svc.cluster.local'
          ? 'nodata'
          : fqdn === 'api.example.com'
            ? 'address'
            : 'nxdomain',
    };
    expect(lookupCost('musl', 'api.example.com', c5, w)).toMatchObject({
      total: 2,
      resolves: false,
      outcome: 'nodata',
    });
    expect(lookupCost('glibc', 'api.example.com', c5, w)).toMatchObject({ total: 10, resolves: true });
  });

  it('glibc ndots:0 tries dotless names as-is first and still searches', () => {
    const cost = lookupCost('glibc', 'redis', conf([KUBE_DNS], 'ndots:0'), world);
    expect(cost.candidates.map((c) => c.name)).toEqual(['redis', 'redis.shop.svc.cluster.local']);
    expect(lookupCost('musl', 'redis', conf([KUBE_DNS], 'ndots:0'), world).resolves).toBe(false);
  });

  it('no-tld-query stops glibc asking a dotless name as-is after the search list', () => {
    const cost = lookupCost('glibc', 'nope', conf([KUBE_DNS], 'ndots:5 no-tld-query'), world);
    expect(cost.candidates.map((c) => c.name)).toEqual(SEARCH.map((d) => `nope.${d}`));
  });

  it('no-aaaa and AF_INET halve glibc queries; musl ignores no-aaaa', () => {
    expect(lookupCost('glibc', 'api.payments', conf([KUBE_DNS], 'ndots:5 no-aaaa'), world).total).toBe(2);
    expect(lookupCost('musl', 'api.payments', conf([KUBE_DNS], 'ndots:5 no-aaaa'), world).total).toBe(4);
    expect(lookupCost('musl', 'api.payments', c5, world, { family: 'ipv4' }).total).toBe(2);
  });

  it('single-request(-reopen) does not change counts while every server answers', () => {
    for (const opt of ['single-request', 'single-request-reopen']) {
      const c = conf([NODE_LOCAL, KUBE_DNS], `ndots:5 ${opt}`);
      expect(MEASURED_NAMES.map((n) => lookupCost('glibc', n, c, world).total)).toEqual([2, 4, 10, 10]);
    }
  });

  it('glibc skips a search candidate it cannot encode and ends the walk there (then tries as-is)', () => {
    const long = `${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(60)}.${'g'.repeat(50)}`;
    const searches = [...SEARCH.slice(0, 3), 'x'.repeat(20), long, 'ec2.internal'];
    const cost = lookupCost('glibc', 's3.eu-west-1.amazonaws.com', conf([KUBE_DNS], 'ndots:5', searches), world);
    expect(cost.candidates.map((x) => x.name)).toEqual([
      ...searches.slice(0, 4).map((d) => `s3.eu-west-1.amazonaws.com.${d}`),
      's3.eu-west-1.amazonaws.com',
    ]);
    // musl skips such a candidate and goes on (a long name: a long search line would be ignored whole).
    const longName = ['a', 'b', 'c', 'd'].map((c) => c.repeat(59)).join('.');
    const musl = lookupCost(
      'musl',
      longName,
      conf([KUBE_DNS], 'ndots:5', ['ab', 'shop.svc.cluster.local', 'cd']),
      world,
    );
    expect(musl.candidates.map((x) => x.name)).toEqual([`${longName}.ab`, `${longName}.cd`, longName]);
    expect(encodable(`redis.${'a'.repeat(64)}.com`)).toBe(false);
    expect(encodable(`redis.${'a'.repeat(63)}.com`)).toBe(true);
  });
});

describe('musl reading resolv.conf', () => {
  it('ignores a search line of 255 bytes or more', () => {
    const base = 'search shop.svc.cluster.local svc.cluster.local cluster.local '.length;
    const at = (length: number) => conf([KUBE_DNS], 'ndots:5', [...SEARCH.slice(0, 3), 'x'.repeat(length - base)]);
    expect(resolverSettings('musl', at(254)).searchLineIgnored).toBe(false);
    expect(resolverSettings('musl', at(255)).searchLineIgnored).toBe(true);
    expect(lookupCost('musl', 'redis', at(255), world)).toMatchObject({ resolves: false, total: 2 });
    expect(lookupCost('glibc', 'redis', at(255), world).resolves).toBe(true);
    expect(muslSearchLineWarning(at(255))[0]).toContain('255 bytes');
    expect(muslSearchLineWarning(at(254))).toEqual([]);
  });

  it('reads only ndots, timeout and attempts, with its own limits and defaults', () => {
    const s = resolverSettings('musl', conf([KUBE_DNS], 'ndots:20 timeout:90 attempts:abc rotate single-request'));
    expect(s).toMatchObject({ ndots: 15, timeout: 60, attempts: 2, rotate: false, singleRequest: false });
    expect(s.ignoredOptions).toEqual(['rotate', 'single-request']);
    const g = resolverSettings('glibc', conf([KUBE_DNS], 'ndots:abc timeout:90 attempts:9'));
    expect(g).toMatchObject({ ndots: 0, timeout: 30, attempts: 5 });
  });

  it('both use at most three nameservers', () => {
    const c = conf(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'], 'ndots:5');
    expect(Object.keys(lookupCost('musl', 'redis', c, world).perNameserver)).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
    ]);
  });
});

describe('glibc search-list assertion', () => {
  const base = ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local']; // 55 bytes with terminators
  const domain = (length: number) => `${'h'.repeat(60)}.${'i'.repeat(60)}.${'j'.repeat(60)}.`.padEnd(length, 'k');

  it('aborts when a domain overflows the 256-byte buffer after 56 bytes or less', () => {
    expect(glibcSearchListAborts([...base, domain(201)])).toBe(true);
    expect(glibcSearchListAborts([...base, domain(200)])).toBe(false);
    expect(glibcSearchListAborts(['payments.svc.cluster.local', ...base.slice(1), domain(240)])).toBe(false);
    expect(glibcSearchListAborts(SEARCH)).toBe(false);
  });

  it('a crashing lookup sends nothing and does not resolve', () => {
    const c = conf([KUBE_DNS], 'ndots:5', [...base, domain(201)]);
    expect(lookupCost('glibc', 'redis', c, world)).toMatchObject({ total: 0, resolves: false, outcome: 'crash' });
  });
});

describe('outages', () => {
  it('glibc waits on a dead first server per name tried, then asks the next', () => {
    const w = { ...world, down: [NODE_LOCAL] };
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:2 timeout:1');
    expect(lookupCost('glibc', 'redis', c, w)).toMatchObject({
      perNameserver: { [NODE_LOCAL]: 2, [KUBE_DNS]: 2 },
      lost: 2,
      waitSeconds: 1,
      resolves: true,
    });
    expect(lookupCost('glibc', 'api.payments', c, w).waitSeconds).toBe(2);
    expect(lookupCost('glibc', 'redis', conf([NODE_LOCAL, KUBE_DNS], 'ndots:2'), w).waitSeconds).toBe(5);
  });

  it('with single-request the dead server only sees the A query', () => {
    const w = { ...world, down: [NODE_LOCAL] };
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:2 timeout:1 single-request-reopen');
    expect(lookupCost('glibc', 'redis', c, w).perNameserver).toEqual({ [NODE_LOCAL]: 1, [KUBE_DNS]: 2 });
  });

  it('musl does not wait while one server answers', () => {
    const w = { ...world, down: [NODE_LOCAL] };
    expect(lookupCost('musl', 'api.payments', conf([NODE_LOCAL, KUBE_DNS], 'ndots:2'), w)).toMatchObject({
      perNameserver: { [NODE_LOCAL]: 4, [KUBE_DNS]: 4 },
      waitSeconds: 0,
      resolves: true,
    });
  });

  it('all servers down: glibc walks every try of every server, musl resends per attempt and stops', () => {
    const w = { ...world, down: [NODE_LOCAL, KUBE_DNS] };
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:2 timeout:1 attempts:2');
    // glibc: the first search name times out (ends the walk), then the as-is try times out too.
    expect(lookupCost('glibc', 'redis', c, w)).toMatchObject({
      perNameserver: { [NODE_LOCAL]: 8, [KUBE_DNS]: 8 },
      waitSeconds: 8,
      outcome: 'timeout',
    });
    expect(lookupCost('musl', 'redis', c, w)).toMatchObject({
      perNameserver: { [NODE_LOCAL]: 4, [KUBE_DNS]: 4 },
      waitSeconds: 1,
      outcome: 'timeout',
    });
  });

  it('rotate starts each name one server further along', () => {
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:5 rotate');
    expect(lookupCost('glibc', 'api.payments', c, world).perNameserver).toEqual({ [NODE_LOCAL]: 2, [KUBE_DNS]: 2 });
    expect(lookupCost('glibc', 'redis', c, world, { rotateOffset: 1 }).perNameserver).toEqual({
      [NODE_LOCAL]: 0,
      [KUBE_DNS]: 2,
    });
  });
});

describe('the product name forms', () => {
  const forms = defaultNameForms({ namespace: 'shop', clusterDomain: 'cluster.local' });

  it('lists svc, svc.ns, svc.ns.svc, the FQDN and external names with 1, 2 and 3 dots', () => {
    expect(forms.map((f) => [f.name, f.dots, f.inCluster])).toEqual([
      ['my-svc', 0, true],
      ['my-svc.shop', 1, true],
      ['my-svc.shop.svc', 2, true],
      ['my-svc.shop.svc.cluster.local', 4, true],
      ['example.com', 1, false],
      ['api.example.com', 2, false],
      ['s3.eu-west-1.amazonaws.com', 3, false],
    ]);
    expect(DEFAULT_EXTERNAL_NAMES).toHaveLength(3);
    expect(defaultNameForms({ namespace: 'a', clusterDomain: 'c.l', absolute: true }).at(4)).toMatchObject({
      name: 'my-svc.a.svc.c.l.',
      kind: 'absolute',
      dots: 4,
    });
  });

  it('every form resolves under the Kubernetes default, for both resolvers', () => {
    const rows = costTable(conf([KUBE_DNS], 'ndots:5', SEARCH), forms);
    expect(rows.map((r) => [r.glibc.total, r.musl.total])).toEqual([
      [2, 2],
      [4, 4],
      [6, 6],
      [10, 10],
      [10, 10],
      [10, 10],
      [10, 10],
    ]);
    expect(rows.every((r) => r.glibc.resolves && r.musl.resolves)).toBe(true);
  });

  it('dns-tuner default (None, node-local + kube-dns, ndots:3): cheaper, and musl keeps every form', () => {
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:3 timeout:1', SEARCH.slice(0, 3));
    const rows = costTable(c, forms, defaultWorld(forms));
    expect(rows.map((r) => r.glibc.perNameserver[NODE_LOCAL])).toEqual([2, 4, 6, 2, 8, 8, 2]);
    expect(rows.map((r) => r.glibc.perNameserver[KUBE_DNS])).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(rows.every((r) => r.musl.resolves)).toBe(true);
    expect(muslBrokenForms(c, forms)).toEqual([]);
  });
});

describe('warnings', () => {
  const forms = defaultNameForms({ namespace: 'shop', clusterDomain: 'cluster.local' });

  it('names the forms musl stops resolving', () => {
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:2 timeout:1');
    expect(muslBrokenForms(c, forms)).toEqual([
      '"my-svc.shop.svc" (2 dots) does not resolve on musl/Alpine with ndots:2: musl never searches names with >= ndots dots',
    ]);
    const before = conf([KUBE_DNS], 'ndots:5');
    expect(formsLostBetween(before, conf([NODE_LOCAL, KUBE_DNS], 'ndots:1'), forms)).toEqual([
      '"my-svc.shop" resolves now but will not on musl (ndots:1)',
      '"my-svc.shop.svc" resolves now but will not on musl (ndots:1)',
    ]);
  });

  it('options musl ignores, fallback timeouts, fan-out', () => {
    const c = conf([NODE_LOCAL, KUBE_DNS], 'ndots:3 single-request-reopen');
    expect(muslIgnoredOptions(c)).toEqual([
      'musl/Alpine ignores option(s) single-request-reopen: only ndots, timeout and attempts apply there',
    ]);
    expect(fallbackTimeoutWarning(c)).toEqual([
      'glibc waits 5s on 169.254.20.10 before asking 10.96.0.10 for every name tried; set timeout:1 for the fallback',
    ]);
    expect(fallbackTimeoutWarning(conf([NODE_LOCAL, KUBE_DNS], 'ndots:3 timeout:1'))).toEqual([]);
    expect(fallbackTimeoutWarning(conf([KUBE_DNS], 'ndots:3'))).toEqual([]);
    expect(muslFanOutWarning(c)).toHaveLength(1);
    expect(muslFanOutWarning(conf([KUBE_DNS], 'ndots:3'))).toEqual([]);
    const file = (c: ResolvConf) => ({ ...c, text: JSON.stringify(c) });
    const today = file(conf([KUBE_DNS], 'ndots:5'));
    const none = new Set<string>();
    expect(resolverWarnings(today, today, forms, defaultWorld(forms), none)).toEqual([]);
    const tuned = file(conf([NODE_LOCAL, KUBE_DNS], 'ndots:1 rotate'));
    const all = resolverWarnings(today, tuned, forms, defaultWorld(forms), none);
    expect(all.length).toBeGreaterThan(0);
    for (const w of all) {
      expect(w.length).toBeLessThanOrEqual(120);
    }
  });
});

describe('invariants (random resolv.conf, names and worlds)', () => {
  const label = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/);
  const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((labels) => labels.join('.'));
  const arbitraryConf = fc.record({
    nameservers: fc.uniqueArray(fc.constantFrom(NODE_LOCAL, KUBE_DNS, '10.0.0.53'), { minLength: 1, maxLength: 3 }),
    searches: fc.uniqueArray(fc.constantFrom(...SEARCH, 'corp.example.com', 'a.b'), { maxLength: 6 }),
    options: fc
      .tuple(fc.integer({ min: 0, max: 15 }), fc.subarray(['single-request-reopen', 'no-tld-query', 'edns0']))
      .map(([ndots, flags]) => options(`ndots:${ndots} ${flags.join(' ')}`)),
  });
  /** A random world over the names a lookup could ask: each exists, is NXDOMAIN or (sometimes) no-data. */
  const arbitraryWorld = fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean()).map(
    ([seed, withNoData]): World => ({
      answer: (fqdn) => {
        let h = seed;
        for (const ch of fqdn) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
        const roll = h % 7;
        return roll === 0 ? 'address' : roll === 1 && withNoData ? 'nodata' : 'nxdomain';
      },
    }),
  );

  it('glibc: 2 queries per name tried, all to the first nameserver', () => {
    fc.assert(
      fc.property(arbitraryConf, name, arbitraryWorld, (c, n, w) => {
        const cost = lookupCost('glibc', n, c, w);
        expect(cost.total).toBe(2 * cost.candidates.length);
        expect(cost.perNameserver[c.nameservers[0]!]).toBe(cost.total);
      }),
    );
  });

  it('musl: every nameserver gets the same queries, 2 per name per server', () => {
    fc.assert(
      fc.property(arbitraryConf, name, arbitraryWorld, (c, n, w) => {
        const cost = lookupCost('musl', n, c, w);
        for (const ns of c.nameservers) expect(cost.perNameserver[ns]).toBe(2 * cost.candidates.length);
      }),
    );
  });

  it('musl never asks a name glibc would not, and resolves only if glibc does', () => {
    fc.assert(
      fc.property(arbitraryConf, name, arbitraryWorld, (c, n, w) => {
        // no-tld-query is glibc-only and makes glibc skip a name musl still asks.
        fc.pre(!c.options.some((o) => o.name === 'no-tld-query'));
        const g = lookupCost('glibc', n, c, w);
        const m = lookupCost('musl', n, c, w);
        const asked = new Set(g.candidates.map((x) => x.name));
        if (!g.resolves) for (const x of m.candidates) expect(asked.has(x.name)).toBe(true);
        if (m.resolves) expect(g.resolves).toBe(true);
      }),
    );
  });

  it('the name that answered is the last one asked', () => {
    fc.assert(
      fc.property(arbitraryConf, name, arbitraryWorld, fc.constantFrom('glibc', 'musl'), (c, n, w, r) => {
        const cost = lookupCost(r, n, c, w);
        expect(cost.resolves).toBe(cost.answeredBy !== undefined);
        if (cost.resolves) expect(cost.candidates.at(-1)?.name).toBe(cost.answeredBy);
      }),
    );
  });
});
