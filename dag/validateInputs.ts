// Submit-time input validation (SPEC §1): defaults merged, types checked (an integer-valued number
// passes `integer`; numeric strings are NOT coerced), undeclared inputs rejected, and every problem
// reported at once.
import { didYouMean } from './suggest';
import { matchesType } from './validateWorkflow';
import type { Workflow } from './workflowModel';

export interface InputProblem {
  input: string;
  message: string;
}

export type InputValidation =
  { ok: true; value: Record<string, unknown> } | { ok: false; problems: InputProblem[] };

export function validateInputs(workflow: Workflow, inputs: unknown): InputValidation {
  if (inputs === undefined || inputs === null) inputs = {};
  if (typeof inputs !== 'object' || Array.isArray(inputs)) {
    return {
      ok: false,
      problems: [
        {
          input: '(inputs)',
          message: `inputs must be a JSON object, got ${Array.isArray(inputs) ? 'an array' : typeof inputs}`,
        },
      ],
    };
  }
  const given = inputs as Record<string, unknown>;
  const declared = workflow.inputs;
  const problems: InputProblem[] = [];
  const value: Record<string, unknown> = {};
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(declared, name)) {
      const hint = didYouMean(name, Object.keys(declared));
      problems.push({
        input: name,
        message: `"${name}" is not an input of workflow "${workflow.workflow_id}"${hint ? ` (${hint})` : ''}; declared inputs: ${Object.keys(declared).join(', ') || 'none'}`,
      });
    }
  }
  for (const [name, def] of Object.entries(declared)) {
    const v = Object.hasOwn(given, name) ? given[name] : undefined;
    if (v === undefined || v === null) {
      if (def.default !== undefined) value[name] = structuredCloneJson(def.default);
      else if (def.required)
        problems.push({ input: name, message: `required input "${name}" (${def.type}) is missing` });
      else value[name] = null;
      continue;
    }
    if (!matchesType(v, def.type)) {
      problems.push({
        input: name,
        message: `input "${name}" must be ${typeName(def.type)}, got ${describeValue(v)}`,
      });
      continue;
    }
    value[name] = v;
  }
  return problems.length ? { ok: false, problems } : { ok: true, value };
}

function structuredCloneJson(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

function typeName(t: string): string {
  return (
    {
      string: 'a string',
      integer: 'an integer',
      number: 'a number',
      boolean: 'a boolean',
      array: 'an array',
      object: 'an object',
    }[t] ?? t
  );
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
