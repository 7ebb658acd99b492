// What a template may cost (issue 20): every operation is charged BEFORE it runs, for the work it does
// and the memory it builds, in proportion to the sizes of the strings and lists involved, against
// limits per node. The accounting is deterministic (no clock): the same template over the same data
// always costs the same and, when too expensive, fails at the same place with TEMPLATE_TOO_EXPENSIVE,
// on every retry and replay, whatever the machine. docs/templates.md "Limits" lists the charges.
import { TemplateFailure } from './template/templateFailure';
import { type TemplateLimitName } from './templateTypes';

export interface TemplateLimits {
  /** Work units: one per expression evaluated, list element or object entry touched, character
   *  looked at one by one, or CHARS_PER_UNIT characters copied or searched; more for loop iterations
   *  and per-occurrence work (docs/templates.md). Bounds the time of a render. */
  readonly work: number;
  /** Bytes of strings, lists and objects built (2 per character, 8 per list element, 16 per object
   *  entry), counted as they are built, never given back. Bounds the memory of a render. */
  readonly memory: number;
  /** Longest string a template may build (characters). */
  readonly stringLength: number;
  /** Longest list a template may build (elements). */
  readonly listLength: number;
}

/** The limits of one node's templates (all its params, or a fan-out's source and every child's params). */
export const TEMPLATE_LIMITS: TemplateLimits = Object.freeze({
  work: 50_000_000,
  memory: 256 * 2 ** 20,
  stringLength: 10_000_000,
  listLength: 1_000_000,
});

/** Characters read or written per work unit by the engine's native string operations. */
export const CHARS_PER_UNIT = 4;

const UNIT_NAMES: Record<'work' | 'memory', string> = { work: 'work units', memory: 'bytes of memory' };

/** `1234567` → `1,234,567` (without locale data, so messages are the same everywhere). */
export function formatCount(n: number): string {
  const s = String(Math.round(n));
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0 && s[i - 1] !== '-') out += ',';
    out += s[i];
  }
  return out;
}

/**
 * The meter of one node's renders: share one budget across every template of the node (renderValue,
 * renderString and evaluateCondition take it as an argument). `exceeded` tells which limit stopped it.
 */
export class TemplateBudget {
  work = 0;
  memory = 0;
  exceeded: TemplateLimitName | undefined;

  constructor(readonly limits: TemplateLimits = TEMPLATE_LIMITS) {}

  /** Charges `units` of work done by `where` (an expression, e.g. "s | replace('a', 'b')"). */
  spend(units: number, where: string): void {
    this.work += units;
    if (this.work > this.limits.work) throw this.over('work', where);
  }

  /** Charges `bytes` of memory built by `where`. */
  alloc(bytes: number, where: string): void {
    this.memory += bytes;
    if (this.memory > this.limits.memory) throw this.over('memory', where);
  }

  /** Charges work and memory at once (the methods below, on every operation: kept cheap). */
  charge(units: number, bytes: number, where: string): void {
    this.work += units;
    this.memory += bytes;
    if (this.work > this.limits.work) throw this.over('work', where);
    if (this.memory > this.limits.memory) throw this.over('memory', where);
  }

  /** Reading (scanning, comparing, copying) `length` characters with native string operations. */
  scan(length: number, where: string): void {
    this.spend(1 + Math.floor(length / CHARS_PER_UNIT), where);
  }

  /** Going through `length` characters one by one in JavaScript: two units each. */
  loop(length: number, where: string): void {
    this.spend(1 + 2 * length, where);
  }

  /** Building a string of `length` characters: checked against the string limit, then charged. */
  text(length: number, where: string): void {
    if (length > this.limits.stringLength) this.checkLength(length, where);
    this.charge(1 + Math.floor(length / CHARS_PER_UNIT), 2 * length, where);
  }

  /** Building a list of `length` elements: checked against the list limit, then charged. */
  list(length: number, where: string): void {
    if (length > this.limits.listLength) {
      throw this.fail(
        'list',
        `${where} would build a list of ${formatCount(length)} elements; the limit is ${formatCount(this.limits.listLength)} elements`,
      );
    }
    // Measured: a new list costs like ~16 steps (allocation, and the GC moving what is kept), and
    // each element 4.
    this.charge(16 + 4 * length, 16 + 8 * length, where);
  }

  /** Copying or keeping `count` list elements (inside lists already checked, or temporary ones). */
  elements(count: number, where: string): void {
    this.charge(count, 8 * count, where);
  }

  /**
   * Appending `added` characters to a string that becomes `total` long (`s ~ t`, text output). V8
   * joins strings without copying them, so only the shorter side is charged; the total is checked
   * against the string limit.
   */
  concat(total: number, added: number, where: string): void {
    if (total > this.limits.stringLength) this.checkLength(total, where);
    // Measured: appending to a long string costs like ~32 simple steps (the rope it grows is kept
    // alive and moved by the GC); short strings are copied, which is cheap.
    this.charge((total < 1024 ? 2 : 32) + Math.floor(added / CHARS_PER_UNIT), 32 + 2 * added, where);
  }

  /** Building an object of `entries` keys. */
  object(entries: number, where: string): void {
    this.charge(16 + 4 * entries, 32 + 16 * entries, where);
  }

  /** Fails when a string of `length` characters would pass the string limit. */
  checkLength(length: number, where: string): void {
    if (length > this.limits.stringLength) {
      throw this.fail(
        'string',
        `${where} would build a string of ${formatCount(length)} characters; the limit is ${formatCount(this.limits.stringLength)} characters`,
      );
    }
  }

  private over(limit: 'work' | 'memory', where: string): TemplateFailure {
    const max = limit === 'work' ? this.limits.work : this.limits.memory;
    const charged =
      limit === 'work'
        ? `every expression, list element and character, or ${CHARS_PER_UNIT} characters copied, costs one unit, a loop iteration more`
        : 'strings cost 2 bytes a character, lists 8 bytes an element, objects 16 bytes an entry';
    return this.fail(
      limit,
      `${where} takes the node's templates over ${formatCount(max)} ${UNIT_NAMES[limit]} (the limit per node; ${charged})`,
    );
  }

  private fail(limit: TemplateLimitName, detail: string): TemplateFailure {
    this.exceeded ??= limit;
    const f = new TemplateFailure(
      'TEMPLATE_TOO_EXPENSIVE',
      `The template is too expensive: ${detail}. Simplify the template or give it less data.`,
    );
    f.limit = limit;
    return f;
  }
}
