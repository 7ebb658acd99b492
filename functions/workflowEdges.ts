// The graph the dashboard draws from a workflow (a job's pinned snapshot, or a loaded workflow): its
// nodes as the snapshot has them, and the edges between them.

export type SnapshotNode = {
  type?: string;
  next?: string | string[];
  depends_on?: string[] | { all_of?: string[]; any_of?: string[] };
  branches?:
    Record<string, string> | Array<{ name?: string; condition?: string; default?: boolean; next: string }>;
  default?: string;
  handler?: string;
  task?: { handler?: string };
  description?: string;
};

export interface Edge {
  from: string;
  to: string;
  label: string | null;
}

/** The edges of a workflow: next, depends_on and the branches of conditionals (labelled). */
export function workflowEdges(nodes: Record<string, SnapshotNode>): Edge[] {
  const edges = new Map<string, Edge>();
  const add = (from: string, to: string, label: string | null = null) => {
    const k = `${from}\u0000${to}`;
    const had = edges.get(k);
    if (!had || (label && !had.label)) edges.set(k, { from, to, label });
  };
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  for (const [id, n] of Object.entries(nodes)) {
    for (const t of list(n.next)) add(id, t);
    const deps = n.depends_on;
    const upstream = Array.isArray(deps) ? deps : [...(deps?.all_of ?? []), ...(deps?.any_of ?? [])];
    for (const u of upstream) add(u, id);
    if (n.type === 'conditional') {
      if (Array.isArray(n.branches)) {
        n.branches.forEach((b, i) =>
          add(id, b.next, b.name ?? (b.default ? 'default' : (b.condition ?? `branch ${i + 1}`))),
        );
      } else if (n.branches) {
        for (const [k, t] of Object.entries(n.branches)) add(id, t, k);
      }
      if (n.default) add(id, n.default, 'default');
    }
  }
  return [...edges.values()].sort((a, b) => (a.from + a.to).localeCompare(b.from + b.to));
}

export function snapshotNodes(snapshot: unknown): Record<string, SnapshotNode> {
  const nodes = (snapshot as { nodes?: Record<string, SnapshotNode> } | null)?.nodes;
  return nodes && typeof nodes === 'object' ? nodes : {};
}
