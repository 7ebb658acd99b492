// Where a value of a YAML text sits, for `file:line:col` in problems. Built only when a problem has
// to be located: it re-reads the text with js-yaml's node listener, which reports each node's
// start and end, and keeps them as a tree shaped like the document.
import jsYaml from 'js-yaml';
import { type IssuePath } from './workflowIssue';

export interface SourcePosition {
  line: number;
  col: number;
}

interface SourceNode {
  start: number;
  kind: string | null;
  /** A mapping key: followed on its line by ":". */
  isKey: boolean;
  result: unknown;
  children: SourceNode[];
}

/** Locates paths of `text`; the nearest existing ancestor when a path goes past the document. */
export function yamlLocator(text: string): (path: IssuePath, atKey?: boolean) => SourcePosition {
  let root: SourceNode | undefined;
  try {
    root = sourceTree(text);
  } catch {
    root = undefined;
  }
  const lines = lineStarts(text);
  return (path, atKey = false) => positionIn(lines, root ? offsetOf(root, path, atKey) : 0);
}

function sourceTree(text: string): SourceNode | undefined {
  const open: SourceNode[] = [];
  let root: SourceNode | undefined;
  jsYaml.load(text, {
    schema: jsYaml.CORE_SCHEMA,
    listener(event, state) {
      if (event === 'open') {
        open.push({
          start: skipSeparation(text, state.position),
          kind: null,
          isKey: false,
          result: undefined,
          children: [],
        });
        return;
      }
      const node = open.pop()!;
      node.kind = state.kind;
      node.result = state.result;
      node.isKey = text[skipSpaces(text, state.position)] === ':';
      const parent = open[open.length - 1];
      if (parent) parent.children.push(node);
      else root = node;
    },
  });
  return root;
}

function offsetOf(root: SourceNode, path: IssuePath, atKey: boolean): number {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (node.kind === 'mapping') {
      const k = node.children.findIndex((c) => c.isKey && String(c.result) === String(seg));
      if (k < 0) break;
      const key = node.children[k]!;
      const value = node.children[k + 1];
      if ((i === path.length - 1 && atKey) || !value || value.isKey) return key.start;
      node = value;
    } else if (node.kind === 'sequence' && typeof seg === 'number' && node.children[seg]) {
      node = node.children[seg];
    } else break;
  }
  return node.start;
}

/** Past spaces, line breaks and comments: where the node's own text begins. */
function skipSeparation(text: string, i: number): number {
  for (;;) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
    else if (c === '#') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return text.length;
      i = nl + 1;
    } else return i;
  }
}

function skipSpaces(text: string, i: number): number {
  while (text[i] === ' ' || text[i] === '\t') i++;
  return i;
}

/** 1-based line and column of an offset. */
export function positionAt(text: string, offset: number): SourcePosition {
  return positionIn(lineStarts(text), offset);
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) starts.push(nl + 1);
  return starts;
}

function positionIn(starts: number[], offset: number): SourcePosition {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - starts[lo]! + 1 };
}
