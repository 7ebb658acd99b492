// `{{ env.NAME }}` in templates, as in the original system: the value of the setting DAG_NAME, else
// NAME, else null. Only the names a workflow's templates reference are exposed to it, and a name that
// looks like it holds a secret (a connection string, key, password, token) is refused at load: a
// rendered value is stored in Postgres and shown by the API. Pure: the caller passes the environment.
import { collectTemplates, inspectTemplate } from './inspectTemplate';
import type { Workflow } from './workflowModel';

/** Setting names that hold secrets; `{{ env.<name> }}` is refused for them (and for DAG_<name>). */
export const SECRET_ENV_NAME =
  /(PASSWORD|PASSWD|PWD|SECRET|TOKEN|KEY|CONNECTION|CONN_?STR|CREDENTIAL|SAS|SIGNATURE|PRIVATE|CERT|DATABASE_URL|DB_URL|AUTH)/i;

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const cache = new WeakMap<object, readonly string[]>();

/** The env names a workflow's templates read (sorted, de-duplicated). */
export function envNames(workflow: Workflow): readonly string[] {
  let names = cache.get(workflow);
  if (names) return names;
  const found = new Set<string>();
  for (const { template } of collectTemplates({
    nodes: workflow.nodes,
    artifacts: workflow.artifacts ?? null,
  }))
    for (const r of inspectTemplate(template).references)
      if (r.root === 'env' && r.path[0] !== undefined && ENV_NAME.test(r.path[0])) found.add(r.path[0]);
  names = [...found].sort();
  cache.set(workflow, names);
  return names;
}

/** The `env` template variable: each referenced name → DAG_<name>, else <name>, else null. */
export function envValues(
  workflow: Workflow,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string | null> {
  const out: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  for (const name of envNames(workflow)) {
    if (SECRET_ENV_NAME.test(name)) continue;
    out[name] = env[`DAG_${name}`] ?? env[name] ?? null;
  }
  return out;
}
