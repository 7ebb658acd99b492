// The dashboard's browser script (docs/dashboard.md), bundled by ui/build.mjs. It draws a job's DAG
// as SVG (laid out by @dagrejs/dagre), keeps it live by polling the job's state with If-None-Match
// (an unchanged job costs one 304 without a body), and asks for confirmation before an action.
// Every value is put in the page with textContent or setAttribute, never as HTML.
import dagre, { type EdgeLabel, type GraphLabel, type NodeLabel } from '@dagrejs/dagre';

interface GraphNode {
  id: string;
  type: string;
  status: string;
  skip_reason: string | null;
  attempt: number;
  error: string | null;
  fan_out?: { total: number; by_status: Record<string, number>; children_url: string };
}
interface GraphEdge {
  from: string;
  to: string;
  label: string | null;
}
export interface JobState {
  job: { job_id: string; status: string; error_message: string | null; cancel_requested: boolean };
  nodes: GraphNode[];
  edges: GraphEdge[];
  summary: Record<string, number>;
  last_event_id?: number;
}

interface TimelineEvent {
  event_id: number;
  created_at: string;
  event_type: string;
  node_id: string | null;
  event_status: string;
  duration_ms: number | null;
  error_message: string | null;
  detail: string;
}

const SVG = 'http://www.w3.org/2000/svg';
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const NODE_W = 210;
const NODE_H = 58;
const FAN_H = 84;
/** Order of the segments of a fan-out's progress bar. */
const BAR_ORDER = ['completed', 'failed', 'skipped', 'running', 'dispatched', 'ready', 'pending'];

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function statusText(n: GraphNode): string {
  if (n.status === 'skipped' && n.skip_reason) return `skipped: ${n.skip_reason.replace(/_/g, ' ')}`;
  if (n.attempt > 1 && n.status !== 'completed') return `${n.status} (attempt ${n.attempt})`;
  return n.status;
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Draws the graph into `host` (replacing what was there). */
export function renderGraph(host: Element, state: JobState, selected: string | null): void {
  const g = new dagre.graphlib.Graph<GraphLabel, NodeLabel, EdgeLabel & { label?: string }>();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of state.nodes) g.setNode(n.id, { width: NODE_W, height: n.fan_out ? FAN_H : NODE_H });
  for (const e of state.edges) {
    if (g.hasNode(e.from) && g.hasNode(e.to))
      g.setEdge(e.from, e.to, e.label ? { label: e.label, width: 8 * e.label.length, height: 14 } : {});
  }
  dagre.layout(g);
  const info = g.graph();
  const width = Math.ceil(info.width ?? 400);
  const height = Math.ceil(info.height ?? 200);
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'group',
    'aria-label': `DAG of job ${state.job.job_id}`,
    class: 'dag',
  });
  const defs = el('defs');
  const marker = el('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 10,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }));
  defs.append(marker);
  svg.append(defs);

  const byId = new Map(state.nodes.map((n) => [n.id, n]));
  for (const e of g.edges()) {
    const pts = g.edge(e).points ?? [];
    const target = byId.get(e.w);
    const untaken = target?.status === 'skipped';
    const d = pts.map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
    svg.append(el('path', { d, class: `edge${untaken ? ' untaken' : ''}`, 'marker-end': 'url(#arrow)' }));
    const label = g.edge(e).label;
    const lx = g.edge(e).x;
    const ly = g.edge(e).y;
    if (label && lx !== undefined && ly !== undefined) {
      svg.append(el('text', { x: lx, y: ly, class: `edge-label${untaken ? ' untaken' : ''}` }, label));
    }
  }

  for (const n of state.nodes) {
    const p = g.node(n.id);
    const h = n.fan_out ? FAN_H : NODE_H;
    const x = (p.x ?? 0) - NODE_W / 2;
    const y = (p.y ?? 0) - h / 2;
    const a = el('a', {
      href: `?node=${encodeURIComponent(n.id)}#node-panel`,
      class: `node status-${n.status}${n.id === selected ? ' selected' : ''}`,
      'data-node-id': n.id,
      'data-status': n.status,
      'aria-label': `${n.type} node ${n.id}: ${statusText(n)}`,
    });
    a.append(el('rect', { x, y, width: NODE_W, height: h, rx: 6, class: 'node-box' }));
    a.append(el('text', { x: x + 10, y: y + 20, class: 'node-id' }, truncate(n.id, 24)));
    a.append(el('text', { x: x + 10, y: y + 40, class: 'node-status' }, truncate(`● ${statusText(n)}`, 28)));
    a.append(el('title', {}, `${n.id} (${n.type}): ${statusText(n)}${n.error ? `\n${n.error}` : ''}`));
    svg.append(a);
    if (n.fan_out) {
      drawBar(a, n.fan_out, x + 10, y + 52, NODE_W - 20);
      // The children's table: a link of its own beside the node's (links do not nest).
      const f = n.fan_out;
      const done = (f.by_status.completed ?? 0) + (f.by_status.failed ?? 0) + (f.by_status.skipped ?? 0);
      const link = el('a', {
        href: f.children_url,
        class: 'children-link',
        'data-children-graph-link': n.id,
        'aria-label': `children of ${n.id}: ${done} of ${f.total} done`,
      });
      link.append(
        el('text', { x: x + 10, y: y + 76, class: 'bar-text' }, `${done}/${f.total} done · children ›`),
      );
      svg.append(link);
    }
  }
  host.replaceChildren(svg);
}

function drawBar(parent: SVGElement, f: NonNullable<GraphNode['fan_out']>, x: number, y: number, w: number) {
  const bar = el('g', {
    class: 'fanout-bar',
    role: 'img',
    'aria-label': `children: ${BAR_ORDER.filter((s) => f.by_status[s])
      .map((s) => `${f.by_status[s]} ${s}`)
      .join(', ')}`,
  });
  bar.append(el('rect', { x, y, width: w, height: 10, class: 'bar-bg' }));
  let off = 0;
  for (const s of BAR_ORDER) {
    const n = f.by_status[s] ?? 0;
    if (!n || !f.total) continue;
    const sw = (w * n) / f.total;
    bar.append(el('rect', { x: x + off, y, width: Math.max(sw, 0.5), height: 10, class: `bar status-${s}` }));
    off += sw;
  }
  parent.append(bar);
}

/** Updates the parts of the page outside the graph that show live values. */
function updatePage(state: JobState): void {
  const badge = document.getElementById('job-status');
  if (badge) {
    badge.textContent = state.job.status + (state.job.cancel_requested ? ' (cancel requested)' : '');
    badge.className = `badge status-${state.job.status}`;
  }
  for (const n of state.nodes) {
    const cell = document.querySelector<HTMLElement>(
      `[data-node-row="${CSS.escape(n.id)}"] .node-status-cell`,
    );
    if (cell) {
      cell.textContent = statusText(n);
      cell.className = `node-status-cell status-${n.status}`;
    }
  }
  const sum = document.getElementById('node-summary');
  if (sum) {
    sum.textContent = Object.entries(state.summary)
      .filter(([k, v]) => k !== 'total' && v > 0)
      .map(([k, v]) => `${v} ${k}`)
      .join(' · ');
  }
  for (const b of document.querySelectorAll<HTMLElement>('[data-live-when]')) {
    const want = (b.dataset.liveWhen ?? '').split(',');
    b.hidden = !want.includes(state.job.status);
  }
}

function formatMs(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Appends the job's new events to the timeline (when it shows the latest ones). */
async function followTimeline(lastEventId: number | undefined): Promise<void> {
  const table = document.getElementById('timeline-table');
  const url = table?.dataset.eventsUrl;
  const body = table?.querySelector('tbody');
  if (!table || !url || !body || lastEventId === undefined) return;
  let after = Number(table.dataset.after ?? '0');
  while (lastEventId > after) {
    const q = new URLSearchParams(table.dataset.filters ?? '');
    q.set('after', String(after));
    const res = await fetch(`${url}?${q.toString()}`, { credentials: 'same-origin', cache: 'no-cache' });
    if (res.status !== 200) return;
    const page = (await res.json()) as { events: TimelineEvent[]; more: boolean };
    for (const e of page.events) {
      body.querySelector('tr.empty')?.remove();
      const tr = document.createElement('tr');
      tr.dataset.eventType = e.event_type;
      tr.className = 'live';
      const td = (text = '') => {
        const c = document.createElement('td');
        c.textContent = text;
        tr.append(c);
        return c;
      };
      td(e.created_at.replace('.000Z', 'Z'));
      td(e.event_type);
      const nodeCell = td();
      if (e.node_id) {
        const a = document.createElement('a');
        a.href = `?node=${encodeURIComponent(e.node_id)}#node-panel`;
        a.textContent = e.node_id;
        nodeCell.append(a);
      }
      td(e.event_status);
      td(formatMs(e.duration_ms));
      const detail = td();
      if (e.error_message) {
        const span = document.createElement('span');
        span.className = 'error-text';
        span.textContent = e.error_message;
        detail.append(span, ' ');
      }
      if (e.detail) {
        const code = document.createElement('code');
        code.textContent = e.detail;
        detail.append(code);
      }
      body.append(tr);
      after = Math.max(after, e.event_id);
    }
    table.dataset.after = String(after);
    // Filtered out, or nothing newer: the marker is reached (or passed) anyway.
    if (!page.more) {
      after = Math.max(after, lastEventId);
      table.dataset.after = String(after);
    }
  }
}

async function startGraph(host: HTMLElement): Promise<void> {
  const url = host.dataset.stateUrl;
  if (!url) return;
  const selected = new URLSearchParams(location.search).get('node');
  let etag: string | null = null;
  let delay = Number(host.dataset.pollMs ?? '2000');
  const poll = async (): Promise<void> => {
    let terminal = false;
    try {
      const res = await fetch(url, {
        headers: etag ? { 'if-none-match': etag } : {},
        credentials: 'same-origin',
        cache: 'no-cache',
      });
      if (res.status === 200) {
        etag = res.headers.get('etag');
        const state = (await res.json()) as JobState;
        renderGraph(host, state, selected);
        updatePage(state);
        await followTimeline(state.last_event_id);
        host.dataset.renders = String(Number(host.dataset.renders ?? '0') + 1);
        terminal = TERMINAL.has(state.job.status) && !state.job.cancel_requested;
      } else if (res.status === 304) {
        host.dataset.notModified = String(Number(host.dataset.notModified ?? '0') + 1);
      } else if (res.status === 401) {
        location.reload();
        return;
      }
      document.getElementById('live-error')?.setAttribute('hidden', '');
    } catch {
      document.getElementById('live-error')?.removeAttribute('hidden');
      delay = Math.min(delay * 2, 30_000);
    }
    host.dataset.polls = String(Number(host.dataset.polls ?? '0') + 1);
    // A finished job changes only through an action (which reloads the page): poll it slowly.
    setTimeout(() => void poll(), document.hidden ? 10_000 : terminal ? 15_000 : delay);
  };
  await poll();
}

function wireConfirm(): void {
  for (const form of document.querySelectorAll<HTMLFormElement>('form[data-confirm]')) {
    form.addEventListener('submit', (ev) => {
      if (!window.confirm(form.dataset.confirm ?? 'Are you sure?')) ev.preventDefault();
    });
  }
  // Filter selects submit their form when changed (the form also has a button for keyboards).
  for (const sel of document.querySelectorAll<HTMLSelectElement>('select[data-autosubmit]')) {
    sel.addEventListener('change', () => sel.form?.requestSubmit());
  }
}

function main(): void {
  wireConfirm();
  const host = document.getElementById('graph');
  if (host) void startGraph(host);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
