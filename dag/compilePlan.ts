// The graph view of a workflow that the validator and the scheduler share: edges of every kind,
// effective dependencies, a deterministic topological order, fan-in sources.
import type { ConditionalNode, NodeDefinition, Workflow } from './workflowModel';

export interface NodeDeps {
  /** Every member must succeed (completed or skipped), and at least one must be completed. */
  allOf: string[];
  /** At least one member must be completed; a skipped member alone never releases the node. */
  anyOf: string[];
  /** Conditionals whose branches target this node (routing gates; always part of allOf). */
  gates: string[];
  /** Nodes whose `next` names this node (used to keep a branch target alive when another path leads to it). */
  nextPreds: string[];
}

export interface Plan {
  workflow: Workflow;
  /** Node ids in a deterministic topological order (ties broken by id); cycles leave nodes out. */
  order: string[];
  /** Position of each node in `order`. */
  rank: Record<string, number>;
  start: string | undefined;
  ends: string[];
  deps: Record<string, NodeDeps>;
  /** Reverse of deps: the nodes whose readiness may change when this node resolves. */
  dependents: Record<string, string[]>;
  /** Forward edges of every kind (next, branches, depends_on reversed), for reachability. */
  successors: Record<string, string[]>;
  /** fan_in id → the fan_out whose children it aggregates (undefined when there is none). */
  fanInSource: Record<string, string | undefined>;
  /** conditional id → all branch targets (map values, list `next`s and `default`). */
  branchTargets: Record<string, string[]>;
}

export function asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export function explicitDeps(node: NodeDefinition): { allOf: string[]; anyOf: string[] } | undefined {
  const d = node.depends_on;
  if (d === undefined) return undefined;
  if (typeof d === 'string' || Array.isArray(d)) return { allOf: asList(d), anyOf: [] };
  return { allOf: asList(d.all_of), anyOf: asList(d.any_of) };
}

export function conditionalTargets(node: ConditionalNode): string[] {
  const targets: string[] = [];
  if (Array.isArray(node.branches)) for (const b of node.branches) targets.push(b.next);
  else targets.push(...Object.values(node.branches));
  if (node.default !== undefined) targets.push(node.default);
  return [...new Set(targets)];
}

function nextOf(node: NodeDefinition): string[] {
  return 'next' in node ? asList(node.next) : [];
}

export function compilePlan(workflow: Workflow): Plan {
  const ids = Object.keys(workflow.nodes).sort();
  const known = new Set(ids);
  const nextPreds: Record<string, string[]> = {};
  const gates: Record<string, string[]> = {};
  const successors: Record<string, string[]> = {};
  const branchTargets: Record<string, string[]> = {};
  for (const id of ids) {
    nextPreds[id] = [];
    gates[id] = [];
    successors[id] = [];
  }
  const link = (from: string, to: string) => {
    if (known.has(from) && known.has(to) && !successors[from]!.includes(to)) successors[from]!.push(to);
  };

  for (const id of ids) {
    const node = workflow.nodes[id]!;
    for (const t of nextOf(node)) {
      if (known.has(t)) nextPreds[t]!.push(id);
      link(id, t);
    }
    if (node.type === 'conditional') {
      const targets = conditionalTargets(node).filter((t) => known.has(t));
      branchTargets[id] = targets;
      for (const t of targets) {
        gates[t]!.push(id);
        link(id, t);
      }
    }
  }

  const deps: Record<string, NodeDeps> = {};
  for (const id of ids) {
    const node = workflow.nodes[id]!;
    const explicit = explicitDeps(node);
    const g = gates[id]!;
    let allOf: string[];
    let anyOf: string[] = [];
    if (explicit) {
      // Explicit depends_on replaces the implicit predecessors, but a branch target stays gated by
      // its conditional: otherwise it could run before (or despite) the routing decision.
      allOf = [...explicit.allOf.filter((d) => known.has(d))];
      anyOf = explicit.anyOf.filter((d) => known.has(d) && !allOf.includes(d));
      for (const c of g) if (!allOf.includes(c) && !anyOf.includes(c)) allOf.push(c);
      for (const d of [...explicit.allOf, ...explicit.anyOf]) link(d, id);
    } else {
      allOf = [...new Set([...nextPreds[id]!, ...g])];
    }
    deps[id] = { allOf: unique(allOf), anyOf: unique(anyOf), gates: [...g], nextPreds: [...nextPreds[id]!] };
  }

  const dependents: Record<string, string[]> = {};
  for (const id of ids) dependents[id] = [];
  for (const id of ids) {
    for (const d of [...deps[id]!.allOf, ...deps[id]!.anyOf]) {
      if (known.has(d) && !dependents[d]!.includes(id)) dependents[d]!.push(id);
    }
  }
  for (const id of ids) dependents[id]!.sort();

  const order = topologicalOrder(ids, deps);
  const rank: Record<string, number> = {};
  order.forEach((id, i) => (rank[id] = i));

  const start = ids.find((id) => workflow.nodes[id]!.type === 'start');
  const ends = ids.filter((id) => workflow.nodes[id]!.type === 'end');

  const fanInSource: Record<string, string | undefined> = {};
  for (const id of ids) {
    if (workflow.nodes[id]!.type === 'fan_in') fanInSource[id] = nearestFanOut(id, workflow, deps).found[0];
  }

  return { workflow, order, rank, start, ends, deps, dependents, successors, fanInSource, branchTargets };
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Kahn's algorithm over dependency edges; ready nodes are taken in id order for determinism. */
function topologicalOrder(ids: string[], deps: Record<string, NodeDeps>): string[] {
  const indegree: Record<string, number> = {};
  const out: Record<string, string[]> = {};
  for (const id of ids) {
    indegree[id] = 0;
    out[id] = [];
  }
  for (const id of ids) {
    for (const d of new Set([...deps[id]!.allOf, ...deps[id]!.anyOf])) {
      if (Object.hasOwn(indegree, d)) {
        indegree[id]!++;
        out[d]!.push(id);
      }
    }
  }
  const ready = ids.filter((id) => indegree[id] === 0).sort();
  const order: string[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const n of out[id]!) {
      if (--indegree[n]! === 0) {
        // Insert keeping `ready` sorted: ties are broken by id, whatever the insertion order.
        let i = 0;
        while (i < ready.length && ready[i]! < n) i++;
        ready.splice(i, 0, n);
      }
    }
  }
  return order;
}

/**
 * The fan_out(s) nearest upstream of a fan_in, walking dependency edges breadth-first. `found`
 * holds every fan_out at the first distance where any was found (more than one is ambiguous).
 */
export function nearestFanOut(
  fanIn: string,
  workflow: Workflow,
  deps: Record<string, NodeDeps>,
): { found: string[] } {
  let frontier = [fanIn];
  const seen = new Set(frontier);
  while (frontier.length) {
    const found: string[] = [];
    const nextFrontier: string[] = [];
    for (const id of frontier) {
      for (const d of [...(deps[id]?.allOf ?? []), ...(deps[id]?.anyOf ?? [])]) {
        if (seen.has(d)) continue;
        seen.add(d);
        if (workflow.nodes[d]?.type === 'fan_out') found.push(d);
        else nextFrontier.push(d);
      }
    }
    if (found.length) return { found: found.sort() };
    frontier = nextFrontier;
  }
  return { found: [] };
}

/** Every node from which `id` can be reached through dependency edges (its upstream). */
export function ancestorsOf(plan: Plan, id: string): Set<string> {
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length) {
    const cur = stack.pop()!;
    const d = plan.deps[cur];
    if (!d) continue;
    for (const p of [...d.allOf, ...d.anyOf]) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}
