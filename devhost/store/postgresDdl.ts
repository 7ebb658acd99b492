// Tables of the Postgres store, in their own schema (default "devhost"), created idempotently.
// Modelled on durabletask-mssql: Instances, History, NewEvents (timers are future-visible events),
// NewTasks (activity work, owned by a live host).

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function storeDdl(schema: string): string {
  const s = quoteIdent(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.meta (
  key text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.instances (
  instance_id text PRIMARY KEY,
  name text NOT NULL,
  version text NOT NULL DEFAULT '',
  execution_id text NOT NULL,
  runtime_status text NOT NULL,
  input text,
  output text,
  custom_status text,
  parent_instance_id text,
  parent_execution_id text,
  parent_task_id integer,
  parent_name text,
  history_length integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE INDEX IF NOT EXISTS instances_created_at_idx ON ${s}.instances (created_at, instance_id);
-- One row per episode: the JSON array of the events it appended, starting at index first_seq.
CREATE TABLE IF NOT EXISTS ${s}.history (
  instance_id text NOT NULL,
  execution_id text NOT NULL,
  first_seq integer NOT NULL,
  events text NOT NULL,
  PRIMARY KEY (instance_id, first_seq)
);
CREATE TABLE IF NOT EXISTS ${s}.new_events (
  id bigserial PRIMARY KEY,
  instance_id text NOT NULL,
  execution_id text,
  event text NOT NULL,
  visible_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS new_events_instance_idx ON ${s}.new_events (instance_id, id);
CREATE INDEX IF NOT EXISTS new_events_visible_idx ON ${s}.new_events (visible_at);
-- owner: the advisory-lock key of the host running the activity (NULL: free to claim).
CREATE TABLE IF NOT EXISTS ${s}.activity_tasks (
  id bigserial PRIMARY KEY,
  instance_id text NOT NULL,
  execution_id text NOT NULL,
  task_id integer NOT NULL,
  name text NOT NULL,
  input text NOT NULL,
  owner bigint,
  claimed_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS activity_tasks_free_idx ON ${s}.activity_tasks (id) WHERE owner IS NULL;
CREATE INDEX IF NOT EXISTS activity_tasks_owner_idx ON ${s}.activity_tasks (owner) WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS activity_tasks_instance_idx ON ${s}.activity_tasks (instance_id);
`;
}
