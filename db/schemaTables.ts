// The engine's tables and types of one schema, as SQL identifiers for the repositories' statements.
import { sql } from './sql';

export const schemaTables = (schema: string) => ({
  jobs: sql.table(schema, 'dag_jobs'),
  nodes: sql.table(schema, 'dag_node_states'),
  events: sql.table(schema, 'dag_job_events'),
  results: sql.table(schema, 'dag_task_results'),
  /** A type of the schema (an enum): `::${t.type('node_status')}`. */
  type: (name: string) => sql.ident(schema, name),
});
export type SchemaTables = ReturnType<typeof schemaTables>;
