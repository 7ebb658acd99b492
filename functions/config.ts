// Configuration from the environment (app settings on Azure, local.settings.json / the shell
// locally), validated with zod. Every variable is documented in docs/configuration.md.
import { z } from 'zod';
import { SCHEDULER_VERSION } from '../activities/contracts';
import { TASKS_PER_MESSAGE_MAX } from '../lib/containerMessages';
import { withoutBlankSettings } from '../db/createPool';
import { intSetting, parseSettings } from '../lib/loadSettings';
import { STORAGE_NAME } from '../lib/storageNames';

const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );
const bool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((s) => (s === undefined || s === '' ? fallback : /^(1|true|yes|on)$/i.test(s)));
const queueName = z
  .string()
  .regex(STORAGE_NAME, 'must be a valid Storage Queue name (3-63 lowercase letters, digits, dashes)');

export const ConfigSchema = z.object({
  DAG_WORKFLOWS_DIR: z.string().default('./workflows'),
  DAG_ACTIVITY_QUEUES: csv('functionapp-tasks'),
  DAG_CONTAINER_QUEUE: queueName.default('container-tasks'),
  /** The queues the container workers consume (their DAG_WORKER_QUEUES): other queues draw a warning. */
  DAG_WORKER_QUEUES: csv('container-tasks,dag-worker-tasks'),
  DAG_RESULT_QUEUE: queueName.default('dag-task-results'),
  /** Job submissions by queue (the original's JobQueueMessage); refused ones go to <queue>-poison. */
  DAG_JOB_QUEUE: queueName.default('dag-jobs'),
  DAG_DB_SCHEMA: z.string().min(1).max(63).default('dagapp'),
  /** The STAC catalog schema the migrations create (auto-bootstrap and the bootstrap routes). */
  DAG_STAC_SCHEMA: z.string().min(1).max(63).default('stac'),
  /** The role the migrations grant to (auto-bootstrap and the bootstrap routes); default <schema>_app. */
  DAG_DB_APP_ROLE: z.string().min(1).max(63).optional(),
  DAG_FANOUT_CHUNK_SIZE: intSetting(500, 1, 5000),
  DAG_ACTIVITY_BATCH_SIZE: intSetting(100, 1, 1000),
  /**
   * The scheduling behaviour new jobs start with (activities/contracts.ts SCHEDULER_VERSION): pin the
   * older one while instances of an older build still run (a rolling deployment), as they cannot
   * replay a newer job's history.
   */
  DAG_SCHEDULER_VERSION: intSetting(SCHEDULER_VERSION, 1, SCHEDULER_VERSION),
  /**
   * How long one runner call may go on starting the activity tasks that follow its attempt in a
   * straight chain when they are not light (each recorded as it starts and ends); 0: light ones only.
   */
  DAG_CHAIN_BUDGET_MS: intSetting(1000, 0, 60_000),
  /**
   * Fan-out children one task message may carry on the queues of DAG_WORKER_QUEUES (the product's
   * workers read batches; other queues get one task per message); 1: one task per message everywhere.
   */
  DAG_TASKS_PER_MESSAGE: intSetting(16, 1, TASKS_PER_MESSAGE_MAX),
  /**
   * Local only: apply the migrations before the first submission (the app's login must be the Postgres
   * administrator). Off on Azure, where the app checks the schema version instead.
   */
  DAG_ENABLE_AUTO_BOOTSTRAP: bool(false),
  /** POST /api/handlers/{name}/test runs a handler in a one-task job (admin key); off by default. */
  DAG_ENABLE_HANDLER_TESTING: bool(false),
  /** Jobs whose orchestration is gone are reconciled after this long without an update. */
  DAG_RECONCILE_GRACE_SECONDS: intSetting(120, 1, 86400),
  /** How often container workers beat (a third of their DAG_WORKER_VISIBILITY_TIMEOUT_SEC). */
  DAG_WORKER_HEARTBEAT_SECONDS: intSetting(20, 1, 3600),
  /** An attempt silent for this many heartbeat intervals has its task message looked for. */
  DAG_STRANDED_AFTER_HEARTBEATS: intSetting(3, 1, 1000),
  /** Storage for task queues: a connection string (Azurite locally), else the account URL + managed identity. */
  DAG_QUEUE_CONNECTION: z.string().optional(),
  AzureWebJobsStorage: z.string().optional(),
  DAG_QUEUE_SERVICE_URL: z.string().url().optional(),
  WEBSITE_SITE_NAME: z.string().optional(),
  /** Set by App Service (and the dev host): the dashboard checks keys against the host there. */
  WEBSITE_HOSTNAME: z.string().optional(),
  /**
   * Platform routes: callers are identified by App Service authentication (x-ms-client-principal) and
   * must be; review and clearance need a role below (docs/domain.md "Who did it").
   */
  DAG_AUTH_ENABLED: bool(false),
  /** Roles (any of) that may approve or reject a version when DAG_AUTH_ENABLED. */
  DAG_REVIEWER_ROLES: csv('Reviewer'),
  /** Roles (any of) that may change clearance, delete and restore an asset when DAG_AUTH_ENABLED. */
  DAG_CLEARANCE_ROLES: csv('DataSteward'),
});

export type Config = z.infer<typeof ConfigSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const r = parseSettings(ConfigSchema, withoutBlankSettings(env));
  if (!r.ok) {
    const problems = r.problems.map((p) => `${p.variable}: ${p.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}. See docs/configuration.md.`);
  }
  return r.config;
}
