// The OpenAPI 3.1 document of the whole HTTP API, generated when it is asked for: every route as
// functions/index.ts registers it (method, path, auth level), with the JSON Schema of its body and
// query string converted from the same zod schemas the route validates with (z.toJSONSchema). Nothing
// here is written by hand except the one-line summaries, which are the registrations' names.
import { z } from 'zod';

export interface RouteDoc {
  name: string;
  methods: string[];
  /** The route under the /api prefix, with {param} placeholders. */
  route: string;
  authLevel: 'anonymous' | 'function' | 'admin';
  body?: z.ZodType;
  query?: z.ZodType;
}

const routes: RouteDoc[] = [];

/** Called by functions/index.ts for every HTTP registration. */
export function documentRoute(r: RouteDoc): void {
  routes.push(r);
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  try {
    const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete s.$schema;
    return s;
  } catch {
    return {};
  }
}

function queryParameters(schema: z.ZodType): Array<Record<string, unknown>> {
  const s = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, p]) => ({
    name,
    in: 'query',
    required: (s.required ?? []).includes(name),
    schema: p,
  }));
}

const section = (route: string) =>
  route.startsWith('v1/')
    ? 'original API (v1)'
    : /^(gateway|status|admin)\b/.test(route)
      ? 'original gateway'
      : (route.split('/')[0] ?? route) || 'service';

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of [...routes].sort((a, b) => a.route.localeCompare(b.route))) {
    const path = `/api/${r.route}`;
    const params = [...r.route.matchAll(/\{([^}:?*]+)[^}]*\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    for (const method of r.methods) {
      (paths[path] ??= {})[method.toLowerCase()] = {
        operationId: r.name,
        summary: r.name,
        tags: [section(r.route)],
        ...(r.authLevel === 'anonymous' ? { security: [] } : {}),
        parameters: [...params, ...(r.query ? queryParameters(r.query) : [])],
        ...(r.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: jsonSchema(r.body) } },
              },
            }
          : {}),
        responses: {
          default: {
            description: 'JSON; errors are {error: {code, message, details?}} (docs/api.md)',
            content: { 'application/json': { schema: {} } },
          },
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rmhdagmaster',
      version,
      description:
        'Generated from the routes and their zod schemas. Reference: docs/api.md, docs/compatibility.md.',
    },
    components: {
      securitySchemes: { functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' } },
    },
    security: [{ functionKey: [] }],
    paths,
  };
}

const escape = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained HTML page of the document (no scripts, no external assets). */
export function referencePage(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const body = (op.requestBody as { content: { 'application/json': { schema: unknown } } } | undefined)
        ?.content['application/json'].schema;
      const query = (op.parameters as Array<{ name: string; in: string }>).filter((p) => p.in === 'query');
      rows.push(
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td>` +
          `<td>${escape(String((op.tags as string[])[0]))}</td><td>${Array.isArray(op.security) ? 'anonymous' : 'key'}</td>` +
          `<td>${query.map((q) => `<code>${escape(q.name)}</code>`).join(' ')}</td>` +
          `<td>${body ? `<details><summary>body</summary><pre>${escape(JSON.stringify(body, null, 2))}</pre></details>` : ''}</td></tr>`,
      );
    }
  }
  const info = doc.info as { title: string; version: string };
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(info.title)} API</title>
<style>body{font-family:sans-serif;margin:2em}td{vertical-align:top;padding:.2em .6em;border-bottom:1px solid #ddd}pre{font-size:.8em}</style>
</head><body><h1>${escape(info.title)} ${escape(info.version)} — HTTP API</h1>
<p>Generated from the registered routes and their zod schemas; the machine-readable document is <a href="/api/openapi.json">/api/openapi.json</a>.</p>
<table><tr><th>method</th><th>path</th><th>section</th><th>auth</th><th>query</th><th>request body</th></tr>
${rows.join('\n')}
</table></body></html>`;
}
