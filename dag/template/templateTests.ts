// Tests (`x is name`, `select('name')`).
import { caseMapped } from './textScanners';
import { type TestSpec } from './filterArguments';
import {
  SafeFunction,
  compareOrder,
  describeValue,
  fail,
  inOperator,
  isPlainObject,
  truthy,
  valuesEqual,
} from './templateEnvironment';
import { type TemplateBudget } from '../templateBudget';

type TestFn = (v: unknown, args: unknown[], b: TemplateBudget, where: string) => boolean;

function test(params: readonly string[], apply: TestFn): TestSpec {
  return { params, apply };
}

const isNumber = (v: unknown): v is number => typeof v === 'number';

const testEntries: Array<[string, TestSpec]> = [
  ['defined', test([], (v) => v !== undefined)],
  ['undefined', test([], (v) => v === undefined)],
  ['none', test([], (v) => v === null)],
  ['null', test([], (v) => v === null)],
  ['boolean', test([], (v) => typeof v === 'boolean')],
  ['true', test([], (v) => v === true)],
  ['false', test([], (v) => v === false)],
  ['number', test([], (v) => isNumber(v))],
  ['integer', test([], (v) => isNumber(v) && Number.isInteger(v))],
  ['float', test([], (v) => isNumber(v) && !Number.isInteger(v))],
  ['string', test([], (v) => typeof v === 'string')],
  ['mapping', test([], (v) => isPlainObject(v))],
  ['sequence', test([], (v) => Array.isArray(v) || typeof v === 'string')],
  ['iterable', test([], (v) => Array.isArray(v) || typeof v === 'string' || isPlainObject(v))],
  ['callable', test([], (v) => v instanceof SafeFunction)],
  ['escaped', test([], () => false)],
  ['truthy', test([], (v) => truthy(v))],
  ['falsy', test([], (v) => !truthy(v))],
  ['odd', test([], (v) => isNumber(v) && Math.abs(v % 2) === 1)],
  ['even', test([], (v) => isNumber(v) && v % 2 === 0)],
  [
    'divisibleby',
    test(['num'], (v, [n]) => {
      if (!isNumber(v) || !isNumber(n) || n === 0) {
        throw fail(
          'TEMPLATE_RUNTIME',
          `divisibleby needs two numbers (not zero), got ${describeValue(v)} and ${describeValue(n)}.`,
        );
      }
      return v % n === 0;
    }),
  ],
  [
    'lower',
    test([], (v, _, b, w) => typeof v === 'string' && caseMapped(v, (t) => t.toLowerCase(), b, w) === v),
  ],
  [
    'upper',
    test([], (v, _, b, w) => typeof v === 'string' && caseMapped(v, (t) => t.toUpperCase(), b, w) === v),
  ],
  ['equalto', test(['other'], (v, [o], b, w) => valuesEqual(v, o, b, w))],
  ['eq', test(['other'], (v, [o], b, w) => valuesEqual(v, o, b, w))],
  ['sameas', test(['other'], (v, [o], b, w) => valuesEqual(v, o, b, w))],
  ['ne', test(['other'], (v, [o], b, w) => !valuesEqual(v, o, b, w))],
  ['lt', test(['other'], (v, [o], b) => compareOrder('<', v, o, 'the lt test', b))],
  ['lessthan', test(['other'], (v, [o], b) => compareOrder('<', v, o, 'the lessthan test', b))],
  ['le', test(['other'], (v, [o], b) => compareOrder('<=', v, o, 'the le test', b))],
  ['gt', test(['other'], (v, [o], b) => compareOrder('>', v, o, 'the gt test', b))],
  ['greaterthan', test(['other'], (v, [o], b) => compareOrder('>', v, o, 'the greaterthan test', b))],
  ['ge', test(['other'], (v, [o], b) => compareOrder('>=', v, o, 'the ge test', b))],
  ['in', test(['seq'], (v, [s], b) => inOperator(v, s, 'the in test', b))],
];

export const TESTS: ReadonlyMap<string, TestSpec> = new Map(testEntries);

export function testByName(name: unknown, filter: string): TestSpec {
  const t = typeof name === 'string' ? TESTS.get(name) : undefined;
  if (!t) throw fail('TEMPLATE_RUNTIME', `The ${filter} filter got an unknown test ${describeValue(name)}.`);
  return t;
}
