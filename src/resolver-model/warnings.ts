/**
 * Warnings that follow from the resolver model for one resolv.conf and a set of name forms. Each returns plain
 * sentences (≤120 chars where possible: they may end up in AdmissionReview warnings).
 */
import type { ResolvConf } from '../core/resolv-conf.ts';
import { searchLineLength } from '../core/validation.ts';
import { defaultWorld, type NameForm } from './name-forms.ts';
import { lookupCost, RESOLVERS, type Resolver, resolverSettings, type World } from './query-cost.ts';

function ndotsOf(conf: ResolvConf, resolver: Resolver): number {
  return resolverSettings(resolver, conf).ndots;
}

/** Name forms that resolve under glibc but not under musl with this resolv.conf (e.g. `svc.ns.svc` with ndots:2). */
export function muslBrokenForms(conf: ResolvConf, forms: readonly NameForm[], world = defaultWorld(forms)): string[] {
  const warnings: string[] = [];
  const musl = resolverSettings('musl', conf);
  const ndots = musl.ndots;
  for (const form of forms) {
    const g = lookupCost('glibc', form.name, conf, world);
    const m = lookupCost('musl', form.name, conf, world);
    if (!g.resolves || m.resolves) continue;
    const why = musl.searchLineIgnored
      ? 'musl ignores a search line of 255+ bytes'
      : `musl never searches names with >= ndots dots`;
    warnings.push(`"${form.name}" (${form.dots} dots) does not resolve on musl/Alpine with ndots:${ndots}: ${why}`);
  }
  return warnings;
}

/** Forms that resolve today (`before`) and stop resolving under `after`, per resolver. */
export function formsLostBetween(
  before: ResolvConf,
  after: ResolvConf,
  forms: readonly NameForm[],
  world = defaultWorld(forms),
): string[] {
  const warnings: string[] = [];
  for (const resolver of RESOLVERS) {
    for (const form of forms) {
      if (!lookupCost(resolver, form.name, before, world).resolves) continue;
      if (lookupCost(resolver, form.name, after, world).resolves) continue;
      warnings.push(`"${form.name}" resolves now but will not on ${resolver} (ndots:${ndotsOf(after, resolver)})`);
    }
  }
  return warnings;
}

/** Options in the file that musl (Alpine) does not read. */
export function muslIgnoredOptions(conf: ResolvConf): string[] {
  const ignored = resolverSettings('musl', conf).ignoredOptions;
  if (ignored.length === 0) return [];
  return [`musl/Alpine ignores option(s) ${ignored.join(', ')}: only ndots, timeout and attempts apply there`];
}

/** The musl search-line limit. */
export function muslSearchLineWarning(conf: ResolvConf): string[] {
  if (!resolverSettings('musl', conf).searchLineIgnored) return [];
  const length = searchLineLength(conf.searches);
  return [`search line is ${length} bytes: musl/Alpine ignores lines of 255+ bytes, so short names will not resolve`];
}

/** Seconds above which a glibc pod waits too long on a dead first nameserver before trying the fallback. */
export const FALLBACK_TIMEOUT_LIMIT = 2;

/** A fallback nameserver only helps glibc after the first one timed out: warn when that takes long. */
export function fallbackTimeoutWarning(conf: ResolvConf): string[] {
  const s = resolverSettings('glibc', conf);
  if (s.nameservers.length < 2 || s.timeout <= FALLBACK_TIMEOUT_LIMIT) return [];
  const [first, second] = s.nameservers;
  return [
    `glibc waits ${s.timeout}s on ${first} before asking ${second} for every name tried; set timeout:1 for the fallback`,
  ];
}

/** musl sends every query to every nameserver: the fallback sees all of Alpine's traffic, not just failures. */
export function muslFanOutWarning(conf: ResolvConf): string[] {
  const servers = resolverSettings('musl', conf).nameservers;
  if (servers.length < 2) return [];
  return [
    `musl/Alpine sends every query to all ${servers.length} nameservers (${servers.join(', ')}), not just on failure`,
  ];
}

/**
 * What a person must know about the resolv.conf the pod ends up with: names that stop resolving (per resolver), name
 * forms musl cannot resolve at all with this ndots, options musl ignores, musl's 255-byte line limit, a fallback
 * behind a long glibc timeout, musl sending every query to every nameserver.
 */
export function resolverWarnings(
  before: ResolvConf & { text: string },
  after: ResolvConf & { text: string },
  forms: readonly NameForm[],
  world: World,
  lostOnMusl: ReadonlySet<string>,
): string[] {
  const lost = formsLostBetween(before, after, forms, world);
  const broken = muslBrokenForms(
    after,
    forms.filter((f) => !lostOnMusl.has(f.name)),
    world,
  );
  // Today's file may already be past musl's line limit (a long node search list): that explains a ✗ before.
  const beforeLine = before.text === after.text ? [] : muslSearchLineWarning(before).map((w) => `now: ${w}`);
  return [
    ...lost,
    ...broken,
    ...beforeLine,
    ...muslSearchLineWarning(after),
    ...muslIgnoredOptions(after),
    ...fallbackTimeoutWarning(after),
    ...muslFanOutWarning(after),
  ];
}
