// The runtime state of one template evaluation: variable frames, the output buffer, and the budget.
import { TemplateBudget } from '../templateBudget';

/** What Frame.lookup returns for a name no frame binds (undefined is a value a frame can hold). */
export const NOT_FOUND: unique symbol = Symbol('not found');

/** Variables bound by {% for %} and {% set %} (nunjucks scoping: a set inside a loop updates an outer one). */
export class Frame {
  private readonly vars = new Map<string, unknown>();
  constructor(readonly parent: Frame | null) {}

  lookup(name: string): unknown {
    if (this.vars.has(name)) return this.vars.get(name);
    return this.parent === null ? NOT_FOUND : this.parent.lookup(name);
  }

  bind(name: string, value: unknown): void {
    this.vars.set(name, value);
  }

  /** {% set %}: updates the nearest frame that has the name, else binds it here. */
  assign(name: string, value: unknown): void {
    if (!this.assignExisting(name, value)) this.vars.set(name, value);
  }

  private assignExisting(name: string, value: unknown): boolean {
    if (this.vars.has(name)) {
      this.vars.set(name, value);
      return true;
    }
    return this.parent !== null && this.parent.assignExisting(name, value);
  }
}

/**
 * One evaluation: the root variables (the template context, or {value, output}), the output buffer,
 * and the budget every operation is charged to (shared by all the templates of a node).
 */
export class State {
  buf = '';
  frame: Frame | null = null;
  constructor(
    public roots: Readonly<Record<string, unknown>>,
    public readonly b: TemplateBudget = new TemplateBudget(),
  ) {}

  reset(): void {
    this.buf = '';
    this.frame = null;
  }
}

export type Ev = (s: State) => unknown;
export type St = (s: State) => void;

/** The evaluator of a missing or refused expression (its problem is already reported). */
export const undef: Ev = () => undefined;
