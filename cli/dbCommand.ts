// `dagmaster db ...`: the schema lifecycle from the command line (docs/database.md#migrations).
//   migrate              apply the checked-in migrations (the deployment's migration job runs this)
//   status               which migrations the database has and which it lacks
//   generate-migration   write the next migration from the models (db/tables.ts)
//   new-migration        an empty numbered file for hand-written SQL
//   seal                 record the checksum of the newest migration
import type pg from 'pg';
import {
  createPool,
  defaultAppRole,
  generateMigration,
  loadDbConfig,
  migrationStatus,
  newMigrationFile,
  runMigrations,
  sealNewestMigration,
  type LoginGrant,
} from '../db';
import { launchEmbeddedPostgres } from '../devhost';
import {
  optionalString,
  parseCommandArgs,
  stringList,
  UsageError,
  type ArgsSpec,
  type CommandArgs,
} from './cliCommand';
import { commandEnv, type Env } from './commandEnv';
import path from 'node:path';

export interface DbIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const DB_USAGE = `usage: dagmaster db <command> [options]

  migrate [--dry-run] [--grant LOGIN[:ENTRA_OBJECT_ID]]... [--schema S] [--stac-schema S] [--app-role R] [--json]
                         apply the pending migrations in one transaction (as the Postgres administrator);
                         --grant makes a login a member of the app role (created as an Entra principal
                         when its object id is given)
  status [--json]        the migrations applied and pending
  generate-migration <name> [--dry-run]
                         write db/migrations/NNNN_<name>.sql from the models (needs a scratch Postgres:
                         DATABASE_URL, else the embedded one of the local stack)
  new-migration <name>   an empty numbered file for hand-written SQL
  seal                   record the checksum of the newest migration

Settings: the environment, then ./local.settings.json "Values" (DATABASE_URL or DAG_DB_*, DAG_DB_SCHEMA,
DAG_STAC_SCHEMA, DAG_DB_APP_ROLE).`;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseGrant(v: string): LoginGrant {
  const i = v.lastIndexOf(':');
  if (i > 0 && GUID.test(v.slice(i + 1))) return { name: v.slice(0, i), entraObjectId: v.slice(i + 1) };
  if (!v.trim()) throw new UsageError('--grant needs a login name');
  return { name: v };
}

/** Schema, STAC schema and app role from the options, else the settings. */
export function migrationTarget(args: CommandArgs, env: Env) {
  const schema = optionalString(args, 'schema') ?? (env.DAG_DB_SCHEMA?.trim() || 'dagapp');
  return {
    schema,
    stacSchema: optionalString(args, 'stac-schema') ?? (env.DAG_STAC_SCHEMA?.trim() || 'stac'),
    appRole: optionalString(args, 'app-role') ?? (env.DAG_DB_APP_ROLE?.trim() || defaultAppRole(schema)),
  };
}

// Each subcommand's options, parsed as every command's are (cliCommand.ts).
const none = { min: 0, max: 0, what: 'no argument' };
const SCHEMA = {
  type: 'string',
  value: 'S',
  description: 'the schema (default DAG_DB_SCHEMA, else dagapp)',
} as const;
const JSON_OPTION = { type: 'boolean', description: 'print JSON' } as const;
const SUBCOMMANDS: Record<string, ArgsSpec> = {
  migrate: {
    name: 'db migrate',
    options: {
      'dry-run': { type: 'boolean', description: 'show what would be applied' },
      grant: {
        type: 'string',
        multiple: true,
        value: 'LOGIN[:ENTRA_OBJECT_ID]',
        description: 'a login of the app role',
      },
      schema: SCHEMA,
      'stac-schema': { type: 'string', value: 'S', description: 'the STAC schema' },
      'app-role': { type: 'string', value: 'R', description: 'the app role' },
      json: JSON_OPTION,
      'no-verify': { type: 'boolean', description: 'skip the check of the migrated tables' },
    },
    positionals: none,
  },
  status: { name: 'db status', options: { schema: SCHEMA, json: JSON_OPTION }, positionals: none },
  'generate-migration': {
    name: 'db generate-migration',
    options: { 'dry-run': { type: 'boolean', description: 'print the SQL instead of writing it' } },
    positionals: { min: 1, max: 1, what: 'the migration, e.g. add_job_priority' },
  },
  'new-migration': {
    name: 'db new-migration',
    options: {},
    positionals: { min: 1, max: 1, what: 'the migration, e.g. backfill_owner' },
  },
  seal: { name: 'db seal', options: {}, positionals: none },
};

export async function runDbCommand(args: string[], io: DbIO, root: string = process.cwd()): Promise<number> {
  const [sub, ...rest] = args;
  const env = commandEnv(root);
  try {
    if (
      sub !== undefined &&
      Object.hasOwn(SUBCOMMANDS, sub) &&
      (rest.includes('--help') || rest.includes('-h'))
    ) {
      io.out(DB_USAGE);
      return 0;
    }
    const parsed =
      sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub)
        ? parseCommandArgs(SUBCOMMANDS[sub]!, rest)
        : undefined;
    switch (sub) {
      case 'migrate':
        return await migrate(parsed!, env, io);
      case 'status':
        return await status(parsed!, env, io);
      case 'generate-migration':
        return await generate(parsed!, env, io, root);
      case 'new-migration': {
        const r = newMigrationFile(parsed!.positionals[0]!, migrationsDir(root));
        io.out(`wrote ${path.relative(root, r.path)}: write the SQL, then \`dagmaster db seal\``);
        return 0;
      }
      case 'seal': {
        const r = sealNewestMigration(migrationsDir(root));
        io.out(`sealed ${r.file} (sha256 ${r.checksum})`);
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
        io.out(DB_USAGE);
        return sub === undefined ? 2 : 0;
      default:
        io.err(`dagmaster db: unknown command "${sub}"\n${DB_USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`dagmaster db ${sub}: ${err.message}\n${DB_USAGE}`);
      return 2;
    }
    io.err(`dagmaster db ${sub}: ${(err as Error).message}`);
    return 1;
  }
}

/** The project's db/migrations when run from a checkout; the shipped one otherwise. */
function migrationsDir(root: string): string {
  return path.join(root, 'db', 'migrations');
}

function adminPool(env: Env): pg.Pool {
  return createPool({
    ...loadDbConfig(env),
    poolMax: 2,
    statementTimeoutMs: 0,
    applicationName: 'dagmaster-migrate',
  });
}

async function migrate(args: CommandArgs, env: Env, io: DbIO): Promise<number> {
  const target = migrationTarget(args, env);
  const pool = adminPool(env);
  try {
    const r = await runMigrations(pool, {
      ...target,
      dryRun: args.values['dry-run'] === true,
      verify: args.values['no-verify'] !== true,
      grantTo: stringList(args, 'grant').map(parseGrant),
      log: (s) => io.err(s),
    });
    if (args.values.json === true) io.out(JSON.stringify({ ...target, ...r }, null, 2));
    else if (r.dryRun)
      io.out(
        r.pending.length
          ? `schema ${target.schema} is at migration ${r.from}; would apply ${r.pending.map((m) => `${m.version} (${m.name})`).join(', ')}`
          : `schema ${target.schema} is up to date (migration ${r.from})`,
      );
    else
      io.out(
        r.applied.length
          ? `schema ${target.schema}: migrated from ${r.from} to ${r.to} (${r.applied.map((a) => a.name).join(', ')})`
          : `schema ${target.schema} is up to date (migration ${r.to})`,
      );
    return 0;
  } finally {
    await pool.end();
  }
}

async function status(args: CommandArgs, env: Env, io: DbIO): Promise<number> {
  const schema = optionalString(args, 'schema') ?? (env.DAG_DB_SCHEMA?.trim() || 'dagapp');
  const pool = adminPool(env);
  try {
    const s = await migrationStatus(pool, schema);
    const body = {
      schema,
      current: s.current,
      latest: s.latest,
      pending: s.pending.map((m) => ({ version: m.version, name: m.name })),
      unversioned: s.unversioned,
      ahead: s.ahead,
    };
    if (args.values.json === true) io.out(JSON.stringify(body, null, 2));
    else
      io.out(
        `schema ${schema}: migration ${s.current} of ${s.latest}` +
          (s.pending.length
            ? `; pending: ${s.pending.map((m) => m.file).join(', ')} (run \`dagmaster db migrate\`)`
            : '; up to date') +
          (s.unversioned ? ' (deployed by a release before versioned migrations: migrate adopts it)' : '') +
          (s.ahead ? ` (migrated by a newer release: this build knows ${s.latest})` : ''),
      );
    return s.pending.length ? 1 : 0;
  } finally {
    await pool.end();
  }
}

async function generate(args: CommandArgs, env: Env, io: DbIO, root: string): Promise<number> {
  let url = env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!url) {
    io.err(
      'no DATABASE_URL: using the embedded Postgres of the local stack (.data/postgres) as the scratch database…',
    );
    const e = await launchEmbeddedPostgres({
      dataDir: path.join(root, '.data', 'postgres'),
      database: 'dagmaster',
    });
    url = e.url;
    if (e.startedHere) stop = () => e.stop();
  }
  const pool = createPool({ ...loadDbConfig({ DATABASE_URL: url }), poolMax: 2, statementTimeoutMs: 0 });
  try {
    const r = await generateMigration(pool, {
      name: args.positionals[0]!,
      dir: migrationsDir(root),
      dryRun: args.values['dry-run'] === true,
    });
    if (r.kind === 'up_to_date')
      io.out('the migrations already build what the models describe: nothing to generate');
    else if (args.values['dry-run'] === true) io.out(r.sql);
    else
      io.out(
        `wrote ${path.relative(root, r.path)} (${r.statements} statements) and its checksum: review it, run ` +
          '`npx vitest run test/db/migrations.test.ts`, and commit both files',
      );
    return 0;
  } finally {
    await pool.end();
    await stop?.();
  }
}
