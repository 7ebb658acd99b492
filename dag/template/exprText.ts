// Expressions written back as template text, for messages ("Cannot read "x" of nodes.a.output ...").
import { type NjNode } from './parseTemplate';

export const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function literalText(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (v === null) return 'none';
  return String(v);
}

export function exprText(n: NjNode | undefined | null): string {
  if (!n) return '';
  const c = n.children ?? [];
  switch (n.typename) {
    case 'Symbol':
      return String(n.value);
    case 'Literal':
      return literalText(n.value);
    case 'LookupVal': {
      const v = n.val;
      if (v && v.typename === 'Literal' && typeof v.value === 'string' && IDENT.test(v.value)) {
        return `${exprText(n.target)}.${v.value}`;
      }
      return `${exprText(n.target)}[${exprText(v)}]`;
    }
    case 'FunCall':
      return `${exprText(n.name)}(${(n.args?.children ?? []).map(exprText).join(', ')})`;
    case 'Filter': {
      const [first, ...rest] = n.args?.children ?? [];
      return `${exprText(first)} | ${exprText(n.name)}${rest.length ? `(${rest.map(exprText).join(', ')})` : ''}`;
    }
    case 'KeywordArgs':
      return c.map((p) => `${exprText(p.key)}=${exprText(p.value as NjNode)}`).join(', ');
    case 'Group':
      return `(${c.map(exprText).join(', ')})`;
    case 'Array':
      return `[${c.map(exprText).join(', ')}]`;
    case 'Dict':
      return `{${c.map((p) => `${exprText(p.key)}: ${exprText(p.value as NjNode)}`).join(', ')}}`;
    case 'Not':
      return `not ${exprText(n.target)}`;
    case 'Neg':
      return `-${exprText(n.target)}`;
    case 'Pos':
      return `+${exprText(n.target)}`;
    case 'Compare':
      return [exprText(n.expr), ...(n.ops ?? []).map((o) => `${o.type ?? ''} ${exprText(o.expr)}`)].join(' ');
    case 'InlineIf':
      return `${exprText(n.body)} if ${exprText(n.cond)}${n.else_ ? ` else ${exprText(n.else_)}` : ''}`;
    case 'Capture':
      return '(block)';
    default: {
      const op = BINARY_OPS[n.typename];
      if (op) return `${exprText(n.left)} ${op} ${exprText(n.right)}`;
      return '…';
    }
  }
}

export const BINARY_OPS: Record<string, string> = {
  Or: 'or',
  And: 'and',
  In: 'in',
  Is: 'is',
  Add: '+',
  Concat: '~',
  Sub: '-',
  Mul: '*',
  Div: '/',
  FloorDiv: '//',
  Mod: '%',
  Pow: '**',
};

export const STATEMENT_NAMES: Record<string, string> = {
  Include: '{% include %}',
  Import: '{% import %}',
  FromImport: '{% from ... import %}',
  Extends: '{% extends %}',
  Block: '{% block %}',
  Super: 'super()',
  Macro: '{% macro %}',
  Caller: '{% call %}',
  CallExtension: 'extension tags',
  CallExtensionAsync: 'extension tags',
  FilterAsync: 'async filters',
};
