/** The cost table: one row per name form, one lookup per resolver, for one resolv.conf. */
import type { ResolvConf } from '../core/resolv-conf.ts';
import { defaultWorld, type NameForm } from './name-forms.ts';
import { type LookupCost, lookupCost, type World } from './query-cost.ts';

export interface CostRow {
  form: NameForm;
  glibc: LookupCost;
  musl: LookupCost;
}

/** One row per name form, both resolvers: the table the dry-run endpoint shows before/after. */
export function costTable(conf: ResolvConf, forms: readonly NameForm[], world: World = defaultWorld(forms)): CostRow[] {
  return forms.map((form) => ({
    form,
    glibc: lookupCost('glibc', form.name, conf, world),
    musl: lookupCost('musl', form.name, conf, world),
  }));
}
