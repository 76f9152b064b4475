/**
 * The names a workload looks up, in every form it writes them (`svc`, `svc.ns`, `svc.ns.svc`, the FQDN, external
 * names with 1, 2 and 3 dots), and a DNS world in which they exist: the input of the cost table and its warnings.
 */
import { type Answer, dotsIn, normalise, type World } from './query-cost.ts';

export type NameFormKind = 'svc' | 'svc.ns' | 'svc.ns.svc' | 'svc.ns.svc.domain' | 'absolute' | 'external';

export interface NameForm {
  /** What the application passes to getaddrinfo. */
  name: string;
  kind: NameFormKind;
  inCluster: boolean;
  /** Dots in the name (a trailing dot not counted): compared against ndots. */
  dots: number;
  /** The absolute name it is meant to reach. */
  target: string;
}

/** External names with 1, 2 and 3 dots. */
export const DEFAULT_EXTERNAL_NAMES: readonly string[] = [
  'example.com',
  'api.example.com',
  's3.eu-west-1.amazonaws.com',
];

export interface NameFormsInput {
  namespace: string;
  clusterDomain: string;
  /** A Service in `namespace`. */
  service?: string | undefined;
  external?: readonly string[] | undefined;
  /** Also list the fully qualified in-cluster name with a trailing dot. */
  absolute?: boolean | undefined;
}

/** The name forms dns-tuner shows costs for: `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<domain>`, external names. */
export function defaultNameForms(input: NameFormsInput): NameForm[] {
  const svc = input.service ?? 'my-svc';
  const target = `${svc}.${input.namespace}.svc.${input.clusterDomain}`;
  const inCluster: Array<[string, NameFormKind]> = [
    [svc, 'svc'],
    [`${svc}.${input.namespace}`, 'svc.ns'],
    [`${svc}.${input.namespace}.svc`, 'svc.ns.svc'],
    [target, 'svc.ns.svc.domain'],
  ];
  if (input.absolute) inCluster.push([`${target}.`, 'absolute']);
  const forms: NameForm[] = inCluster.map(([name, kind]) => ({
    name,
    kind,
    inCluster: true,
    dots: dotsIn(name.replace(/\.$/, '')),
    target,
  }));
  for (const name of input.external ?? DEFAULT_EXTERNAL_NAMES) {
    const bare = name.replace(/\.$/, '');
    forms.push({ name, kind: 'external', inCluster: false, dots: dotsIn(bare), target: normalise(bare) });
  }
  return forms;
}

/**
 * A world where exactly the given absolute names exist (with addresses, or with `nodata` for names that exist without
 * A/AAAA records). As real servers answer (CoreDNS, dnsmasq; RFC 8020), a proper ancestor of an existing name is an
 * empty non-terminal and gets no-data, not NXDOMAIN — which matters to musl, for which no-data ends the lookup.
 * Everything else is NXDOMAIN.
 */
export function worldOf(
  names: Iterable<string> | ReadonlyMap<string, 'address' | 'nodata'>,
  down: readonly string[] = [],
): World {
  const entries: Array<[string, 'address' | 'nodata']> =
    names instanceof Map ? [...names] : [...(names as Iterable<string>)].map((n) => [n, 'address']);
  const answers = new Map<string, Answer>();
  for (const [name] of entries) {
    const labels = normalise(name.replace(/\.$/, '')).split('.');
    for (let i = 1; i < labels.length; i++) answers.set(labels.slice(i).join('.'), 'nodata');
  }
  for (const [name, answer] of entries) answers.set(normalise(name.replace(/\.$/, '')), answer);
  return { answer: (fqdn) => answers.get(normalise(fqdn)) ?? 'nxdomain', down };
}

/** The product's default world: every form's target exists (in-cluster as `<svc>.<ns>.svc.<domain>`). */
export function defaultWorld(forms: readonly NameForm[], down: readonly string[] = []): World {
  return worldOf(
    forms.map((f) => f.target),
    down,
  );
}

/**
 * The default name forms (a Service in every written form, external names with 1, 2 and 3 dots) plus the extra
 * names. An extra name without dots is a Service in the namespace; `<svc>.<ns>.svc` and names under the cluster
 * domain are in-cluster; anything else (a trailing dot included) is an external name that exists as written.
 */
export function nameForms(namespace: string, clusterDomain: string, extra: readonly string[]): NameForm[] {
  const forms = defaultNameForms({ namespace, clusterDomain });
  for (const name of extra) {
    if (forms.some((f) => f.name.toLowerCase() === name.toLowerCase())) continue;
    forms.push(extraForm(name, namespace, clusterDomain));
  }
  return forms;
}

function extraForm(name: string, namespace: string, clusterDomain: string): NameForm {
  const absolute = name.endsWith('.');
  const bare = (absolute ? name.slice(0, -1) : name).toLowerCase();
  const dots = bare.split('.').length - 1;
  const form = (kind: NameFormKind, inCluster: boolean, target: string): NameForm => ({
    name,
    kind,
    inCluster,
    dots,
    target,
  });
  if (bare === clusterDomain || bare.endsWith(`.${clusterDomain}`)) {
    return form(absolute ? 'absolute' : 'svc.ns.svc.domain', true, bare);
  }
  if (absolute) return form('external', false, bare);
  if (dots === 0) return form('svc', true, `${bare}.${namespace}.svc.${clusterDomain}`);
  if (dots === 2 && bare.endsWith('.svc')) return form('svc.ns.svc', true, `${bare}.${clusterDomain}`);
  return form('external', false, bare);
}
