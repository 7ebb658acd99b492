// Filters (`x | name(args)`) and tests (`x is name`) available to workflow templates.
//
// The set is nunjucks 3.2.4's built-ins, re-implemented over the sandbox's value semantics
// (templateEnvironment.ts) instead of calling nunjucks' own functions: theirs read attributes with plain
// `obj[attr]` (so `| sum('constructor')` or `| sort(attribute='constructor')` reached Function and printed
// its source) and `random` is not deterministic. Differences from nunjucks, all towards Jinja2:
//   * `random` does not exist (rejected at load time: templates must be deterministic);
//   * `default(d)` also replaces null (declared optional inputs that were not given are null);
//   * `int`/`float` fall back to 0 like Jinja; `round` rounds half away from zero ('common');
//   * `selectattr`/`rejectattr` also take Jinja's test form: `selectattr('kind', 'equalto', 'tif')`;
//   * text filters accept numbers and booleans (written as in output); lists/objects are an error;
//   * results never contain functions; sizes are capped (center/indent widths, batch/slice counts).
// Every filter and test charges the TemplateBudget for its work and for what it builds, before building
// it (templateBudget.ts), and runs in time linear in its input: the regular expressions that could
// backtrack (striptags on "<a<a…" or "<!--<!--…", trailing spaces, number syntax) are scanners
// (textScanners.ts). The filters are grouped by what they work on: valueFilters.ts, textFilters.ts,
// listFilters.ts; tests are templateTests.ts.
import { type FilterSpec } from './filterArguments';
import { LIST_FILTERS } from './listFilters';
import { TEXT_FILTERS } from './textFilters';
import { VALUE_FILTERS } from './valueFilters';

/** Every filter by name, in alphabetical order: a did-you-mean tie goes to the first name, whichever file defines it. */
export const FILTERS: ReadonlyMap<string, FilterSpec> = new Map(
  [...VALUE_FILTERS, ...TEXT_FILTERS, ...LIST_FILTERS].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
);

/** Filters that exist in nunjucks but are refused here, with the reason. */
export const FORBIDDEN_FILTERS: ReadonlyMap<string, string> = new Map([
  ['random', 'it is not deterministic (a node must render the same params on every retry and replay)'],
]);
