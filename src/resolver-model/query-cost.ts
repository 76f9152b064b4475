/**
 * A model of one `getaddrinfo(name, AF_UNSPEC)` lookup under a pod's resolv.conf, for glibc (Debian/Ubuntu/RHEL
 * images) and musl (Alpine): which names are asked, how many DNS queries go to which nameserver, and whether the
 * lookup resolves. Pure. test/resolvers/model-vs-real.test.ts checks it against the real resolvers.
 *
 * Sources: glibc resolv/res_query.c (`__res_context_search`), res_send.c (`__res_context_send`, `send_dg`),
 * res_init.c (option parsing); musl src/network/lookup_name.c (`name_from_dns_search`, `name_from_dns`),
 * res_msend.c, resolvconf.c. See also docs/resolver-behaviour.md (what the real resolvers were measured to do).
 */
import type { ResolvConf } from '../core/resolv-conf.ts';
import {
  formatOption,
  glibcNumber,
  KNOWN_OPTIONS,
  MUSL_OPTIONS,
  NUMERIC_OPTIONS,
  type ResolverOption,
} from '../core/resolver-options.ts';
import { MUSL_MAX_LINE, searchLineLength } from '../core/validation.ts';

export type Resolver = 'glibc' | 'musl';
export const RESOLVERS: readonly Resolver[] = ['glibc', 'musl'];

/** How a DNS server answers an A/AAAA query for one absolute name. */
export type Answer = 'address' | 'nodata' | 'nxdomain';

/** What the DNS looks like from the pod. */
export interface World {
  /** The answer for an absolute name (lower-case, no trailing dot). */
  answer(fqdn: string): Answer;
  /** Nameservers that drop every packet (an outage, or the node-local cache being restarted). */
  down?: readonly string[] | undefined;
}

export interface LookupOptions {
  /**
   * `any` = AF_UNSPEC (A and AAAA: what most clients ask); `ipv4` = A only: AF_INET, or — measured with glibc —
   * AF_UNSPEC with AI_ADDRCONFIG in a pod without IPv6 addresses (Node's net.connect passes that flag).
   */
  family?: 'any' | 'ipv4' | undefined;
  /**
   * glibc `rotate`: the process-wide counter that picks the first nameserver of each query (glibc starts it at a
   * random value and adds one per name asked). Default 0.
   */
  rotateOffset?: number | undefined;
}

export interface Candidate {
  /** The absolute name queried, without the trailing dot. */
  name: string;
  answer: Answer | 'timeout';
}

/** `crash`: glibc abort()s the process while loading the resolv.conf (see glibcSearchListAborts). */
export type Outcome = 'resolved' | 'nxdomain' | 'nodata' | 'timeout' | 'crash';

export interface LookupCost {
  resolver: Resolver;
  name: string;
  /** The names asked, in order. */
  candidates: Candidate[];
  /** DNS queries sent (A and AAAA count separately; retransmissions count). */
  total: number;
  /** Queries sent to each nameserver the resolver uses, in resolv.conf order (0 included). */
  perNameserver: Record<string, number>;
  /** Of `total`, sent to nameservers that are down. */
  lost: number;
  resolves: boolean;
  /** The candidate that produced addresses. */
  answeredBy?: string | undefined;
  outcome: Outcome;
  /** Time spent waiting out timeouts (an estimate from the resolvers' timeout rules; 0 when every server answers). */
  waitSeconds: number;
  /** Model caveats that apply to this lookup (e.g. `rotate`: per-nameserver counts vary between runs). */
  notes: string[];
}

/** What one resolver takes from a resolv.conf. */
export interface ResolverSettings {
  resolver: Resolver;
  /** At most 3: both resolvers ignore further `nameserver` lines (MAXNS). */
  nameservers: string[];
  /** The search list as this resolver reads it (musl drops a line of 255 bytes or more). */
  searches: string[];
  ndots: number;
  /** glibc: seconds per try on one server; musl: the total budget for one query. */
  timeout: number;
  attempts: number;
  /** glibc only: A and AAAA one after the other (`single-request`, `single-request-reopen`). */
  singleRequest: boolean;
  rotate: boolean;
  noTldQuery: boolean;
  noAaaa: boolean;
  /** musl: the search line was 255 bytes or more and is ignored whole. */
  searchLineIgnored: boolean;
  /** glibc: loading this search list trips an assertion and aborts the process. */
  aborts: boolean;
  /** Options in the file this resolver does not read. */
  ignoredOptions: string[];
}

const MAXNS = 3;
/** Longest name either resolver can put in a query (255 octets on the wire), and the longest label. */
const MAX_NAME = 253;
const MAX_LABEL = 63;

/** Whether a name can be put into a query at all (res_mkquery / __res_mkquery refuse it otherwise). */
export function encodable(fqdn: string): boolean {
  return fqdn.length <= MAX_NAME && fqdn.split('.').every((label) => label.length > 0 && label.length <= MAX_LABEL);
}

/** musl reads a number only when a digit follows the colon, otherwise keeps its default (resolvconf.c). */
function muslNumber(value: string | undefined, fallback: number, max: number): number {
  const match = /^(\d+)/.exec(value ?? '');
  return match ? Math.min(Number(match[1]), max) : fallback;
}

function lastOption(options: readonly ResolverOption[], name: string): ResolverOption | undefined {
  return options.findLast((o) => o.name === name);
}

export function resolverSettings(resolver: Resolver, conf: ResolvConf): ResolverSettings {
  const has = (name: string) => conf.options.some((o) => o.name === name);
  const nameservers = conf.nameservers.slice(0, MAXNS);
  if (resolver === 'glibc') {
    const ndots = lastOption(conf.options, 'ndots');
    const timeout = lastOption(conf.options, 'timeout');
    const attempts = lastOption(conf.options, 'attempts');
    return {
      resolver,
      nameservers,
      searches: [...conf.searches],
      ndots: ndots ? glibcNumber(ndots.value, NUMERIC_OPTIONS.ndots.max) : 1,
      timeout: timeout ? glibcNumber(timeout.value, NUMERIC_OPTIONS.timeout.max) : 5,
      attempts: attempts ? glibcNumber(attempts.value, NUMERIC_OPTIONS.attempts.max) : 2,
      singleRequest: has('single-request') || has('single-request-reopen'),
      rotate: has('rotate'),
      noTldQuery: has('no-tld-query'),
      noAaaa: has('no-aaaa'),
      searchLineIgnored: false,
      aborts: glibcSearchListAborts(conf.searches),
      ignoredOptions: unique(conf.options.filter((o) => !KNOWN_OPTIONS.has(o.name)).map((o) => o.name)),
    };
  }
  const optionsLine = `options ${conf.options.map(formatOption).join(' ')}`;
  const optionsRead = conf.options.length > 0 && optionsLine.length <= MUSL_MAX_LINE;
  const read = optionsRead ? conf.options : [];
  const searchLineIgnored = conf.searches.length > 0 && searchLineLength(conf.searches) > MUSL_MAX_LINE;
  return {
    resolver,
    nameservers,
    searches: searchLineIgnored ? [] : [...conf.searches],
    ndots: muslNumber(lastOption(read, 'ndots')?.value, 1, 15),
    timeout: muslNumber(lastOption(read, 'timeout')?.value, 5, 60),
    attempts: muslNumber(lastOption(read, 'attempts')?.value, 2, 10),
    singleRequest: false,
    rotate: false,
    noTldQuery: false,
    noAaaa: false,
    searchLineIgnored,
    aborts: false,
    ignoredOptions: unique(conf.options.filter((o) => !optionsRead || !MUSL_OPTIONS.has(o.name)).map((o) => o.name)),
  };
}

/** glibc's legacy `_res.defdname` buffer and the size its consistency check compares against by mistake. */
const DEFDNAME_BYTES = 256;
const MAXDNSRCH = 6;
const DNSRCH_POINTER_BYTES = (MAXDNSRCH + 1) * 8;

/**
 * glibc (measured: 2.36) copies the first search domains into the 256-byte `_res.defdname` and then asserts the copy
 * matches (resolv_conf.c, `update_from_conf` → `resolv_conf_matches`). When a domain does not fit, the check accepts the
 * truncation only if the domains before it took more than `sizeof (resp->dnsrch)` (56 bytes on 64-bit) — so a long
 * domain right after short ones makes every DNS lookup abort() the process. Kubernetes' three cluster domains for a
 * 4-letter namespace take 55 bytes: a node search domain of 201+ characters then crashes glibc pods.
 */
export function glibcSearchListAborts(searches: readonly string[]): boolean {
  let used = 0;
  for (const [i, domain] of searches.entries()) {
    if (i === MAXDNSRCH) return false;
    const bytes = domain.length + 1;
    if (used + bytes > DEFDNAME_BYTES) return used <= DNSRCH_POINTER_BYTES;
    used += bytes;
  }
  return false;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

export function dotsIn(name: string): number {
  return name.split('.').length - 1;
}

function join(name: string, domain: string): string {
  return domain === '' || domain === '.' ? name : `${name}.${domain.endsWith('.') ? domain.slice(0, -1) : domain}`;
}

class Tally {
  readonly perNameserver: Record<string, number> = {};
  readonly down: ReadonlySet<string>;
  total = 0;
  lost = 0;
  waitSeconds = 0;

  constructor(nameservers: readonly string[], down: readonly string[]) {
    for (const ns of nameservers) this.perNameserver[ns] = 0;
    this.down = new Set(down);
  }

  send(ns: string, queries: number): void {
    this.perNameserver[ns] = (this.perNameserver[ns] ?? 0) + queries;
    this.total += queries;
    if (this.down.has(ns)) this.lost += queries;
  }
}

/**
 * glibc `__res_context_send` for one name: every try walks the servers in order; a server that does not answer costs
 * its timeout (send_dg: `retrans << ns`, divided by the server count for ns > 0, at least 1 s) before the next one is
 * asked. A and AAAA leave together, or one at a time with single-request (then a dead server only sees the A query).
 */
function glibcSend(
  s: ResolverSettings,
  tally: Tally,
  fqdn: string,
  world: World,
  queries: number,
  first: number,
): Answer | 'timeout' {
  const n = s.nameservers.length;
  for (let attempt = 0; attempt < s.attempts; attempt++) {
    for (let shift = 0; shift < n; shift++) {
      const i = (first + shift) % n;
      const ns = s.nameservers[i]!;
      if (tally.down.has(ns)) {
        tally.send(ns, s.singleRequest ? 1 : queries);
        tally.waitSeconds += Math.max(1, i > 0 ? Math.floor((s.timeout * 2 ** i) / n) : s.timeout);
        continue;
      }
      tally.send(ns, queries);
      return world.answer(fqdn);
    }
  }
  return 'timeout';
}

/**
 * musl `__res_msend_rc` for one name: every query goes to every nameserver at once, the first usable reply wins;
 * with no reply the unanswered queries are resent every timeout/attempts until the total timeout runs out.
 */
function muslSend(s: ResolverSettings, tally: Tally, fqdn: string, world: World, queries: number): Answer | 'timeout' {
  const up = s.nameservers.some((ns) => !tally.down.has(ns));
  const rounds = up ? 1 : s.attempts;
  for (let round = 0; round < rounds; round++) for (const ns of s.nameservers) tally.send(ns, queries);
  if (up) return world.answer(fqdn);
  tally.waitSeconds += s.timeout;
  return 'timeout';
}

export function normalise(name: string): string {
  return name.toLowerCase();
}

/** Models one `getaddrinfo(name)` call. `conf` is what the resolv.conf says; each resolver reads its own parts. */
export function lookupCost(
  resolver: Resolver,
  name: string,
  conf: ResolvConf,
  world: World,
  options: LookupOptions = {},
): LookupCost {
  const s = resolverSettings(resolver, conf);
  const tally = new Tally(s.nameservers, world.down ?? []);
  const candidates: Candidate[] = [];
  const notes: string[] = [];
  const ipv4 = options.family === 'ipv4';
  const queries = ipv4 || s.noAaaa ? 1 : 2;
  const trailingDot = name.endsWith('.');
  const bare = normalise(trailingDot ? name.slice(0, -1) : name);
  const dots = dotsIn(bare);

  if (s.rotate && s.nameservers.length > 1) {
    notes.push('rotate: each name asked starts at the next nameserver, from a random point per process');
  }
  if (s.searchLineIgnored) notes.push('musl ignores the search line (255 bytes or more)');

  let answeredBy: string | undefined;
  let outcome: Outcome = 'nxdomain';
  const ask = (fqdn: string): Answer | 'timeout' => {
    // glibc's `nameserver_offset`: with rotate every query starts one server further along.
    const first = s.rotate ? ((options.rotateOffset ?? 0) + candidates.length) % s.nameservers.length : 0;
    const answer =
      resolver === 'glibc'
        ? glibcSend(s, tally, fqdn, world, queries, first)
        : muslSend(s, tally, fqdn, world, queries);
    candidates.push({ name: fqdn, answer });
    if (answer === 'address') answeredBy = fqdn;
    return answer;
  };

  if (s.aborts) {
    outcome = 'crash';
    notes.push('glibc aborts the process while loading this search list');
  } else if (s.nameservers.length === 0) {
    // Both fall back to 127.0.0.1 with no nameserver line; dns-tuner never writes such a file.
    notes.push('no nameserver: the resolver would ask 127.0.0.1');
  } else if (resolver === 'glibc') {
    outcome = glibcSearch(s, bare, dots, trailingDot, ask);
  } else {
    outcome = muslSearch(s, bare, dots, trailingDot, ask);
  }

  return {
    resolver,
    name,
    candidates,
    total: tally.total,
    perNameserver: tally.perNameserver,
    lost: tally.lost,
    resolves: outcome === 'resolved',
    answeredBy,
    outcome,
    waitSeconds: tally.waitSeconds,
    notes,
  };
}

type Ask = (fqdn: string) => Answer | 'timeout';

/** Remembers the most telling failure, as glibc's got_nodata/saved_herrno do, for the final outcome. */
function failure(answers: ReadonlyArray<Answer | 'timeout'>): Outcome {
  if (answers.includes('nodata')) return 'nodata';
  if (answers.length > 0 && answers.every((a) => a === 'timeout')) return 'timeout';
  return 'nxdomain';
}

/** glibc `__res_context_search`. */
function glibcSearch(s: ResolverSettings, name: string, dots: number, trailingDot: boolean, ask: Ask): Outcome {
  const answers: Array<Answer | 'timeout'> = [];
  const tryName = (fqdn: string): boolean => {
    const answer = ask(fqdn);
    answers.push(answer);
    return answer === 'address';
  };
  let triedAsIs = false;
  if (dots >= s.ndots || trailingDot) {
    if (encodable(name) && tryName(name)) return 'resolved';
    if (trailingDot) return failure(answers);
    triedAsIs = true;
  }
  let searched = false;
  let rootOnList = false;
  for (const domain of s.searches) {
    searched = true;
    if (domain === '' || domain === '.') {
      rootOnList = true;
      if (s.noTldQuery) continue;
    }
    const fqdn = join(name, domain);
    // res_mkquery refuses a name over 255 octets or with a label over 63: NO_RECOVERY, which ends the walk without
    // sending anything (the as-is try still follows).
    if (!encodable(fqdn)) break;
    if (tryName(fqdn)) return 'resolved';
    // NXDOMAIN and no-data keep walking; a timeout (TRY_AGAIN without SERVFAIL) ends it.
    if (answers.at(-1) === 'timeout') break;
  }
  if ((dots > 0 || !searched || !s.noTldQuery) && !(triedAsIs || rootOnList)) {
    if (encodable(name) && tryName(name)) return 'resolved';
  }
  return failure(answers);
}

/** musl `name_from_dns_search`: only NXDOMAIN moves on to the next name. */
function muslSearch(s: ResolverSettings, name: string, dots: number, trailingDot: boolean, ask: Ask): Outcome {
  const searches = dots >= s.ndots || trailingDot ? [] : s.searches;
  for (const domain of searches) {
    const fqdn = join(name, domain);
    // musl's __res_mkquery fails the same way; name_from_dns then returns 0, which moves on like NXDOMAIN.
    if (!encodable(fqdn)) continue;
    const answer = ask(fqdn);
    if (answer === 'address') return 'resolved';
    if (answer !== 'nxdomain') return answer;
  }
  if (!encodable(name)) return 'nxdomain';
  const answer = ask(name);
  return answer === 'address' ? 'resolved' : answer;
}
