// Dialects: which names exist at the top level of a template (workflow templates) or a condition.
import { type SafeFunction, TEMPLATE_FUNCTIONS } from './templateEnvironment';

export interface Dialect {
  readonly kind: 'template' | 'condition';
  readonly roots: ReadonlySet<string>;
  readonly functions: ReadonlyMap<string, SafeFunction>;
  /** Appended to "Unknown variable" messages. */
  readonly knownNames: string;
}

export const TEMPLATE_DIALECT: Dialect = {
  kind: 'template',
  roots: new Set(['inputs', 'nodes', 'item', 'index', 'env']),
  functions: TEMPLATE_FUNCTIONS,
  knownNames:
    'Templates can use inputs, nodes.<id>.output, nodes.<id>.status, env.<NAME>, and item/index in fan-out task params.',
};
