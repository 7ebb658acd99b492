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
import { ArgsError, commandEnv, one, parseArgs, rejectUnknown, type Env } from './commandEnv';
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
  if (!v.trim()) throw new ArgsError('--grant needs a login name');
  return { name: v };
}

/** Schema, STAC schema and app role from the options, else the settings. */
export function migrationTarget(p: ReturnType<typeof parseArgs>, env: Env) {
  const schema = one(p, 'schema') ?? (env.DAG_DB_SCHEMA?.trim() || 'dagapp');
  return {
    schema,
    stacSchema: one(p, 'stac-schema') ?? (env.DAG_STAC_SCHEMA?.trim() || 'stac'),
    appRole: one(p, 'app-role') ?? (env.DAG_DB_APP_ROLE?.trim() || defaultAppRole(schema)),
  };
}

export async function runDbCommand(args: string[], io: DbIO, root: string = process.cwd()): Promise<number> {
  const [sub, ...rest] = args;
  const env = commandEnv(root);
  try {
    switch (sub) {
      case 'migrate':
        return await migrate(rest, env, io);
      case 'status':
        return await status(rest, env, io);
      case 'generate-migration':
        return await generate(rest, env, io, root);
      case 'new-migration': {
        const p = parseArgs(rest, []);
        rejectUnknown(p, []);
        if (p.positional.length !== 1) throw new ArgsError('name the migration, e.g. backfill_owner');
        const r = newMigrationFile(p.positional[0]!, migrationsDir(root));
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
    if (err instanceof ArgsError) {
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

async function migrate(args: string[], env: Env, io: DbIO): Promise<number> {
  const p = parseArgs(args, ['schema', 'stac-schema', 'app-role', 'grant']);
  rejectUnknown(p, ['schema', 'stac-schema', 'app-role', 'grant', 'dry-run', 'json', 'no-verify']);
  if (p.positional.length) throw new ArgsError(`unexpected argument "${p.positional[0]}"`);
  const target = migrationTarget(p, env);
  const pool = adminPool(env);
  try {
    const r = await runMigrations(pool, {
      ...target,
      dryRun: p.switches.has('dry-run'),
      verify: !p.switches.has('no-verify'),
      grantTo: (p.values.get('grant') ?? []).map(parseGrant),
      log: (s) => io.err(s),
    });
    if (p.switches.has('json')) io.out(JSON.stringify({ ...target, ...r }, null, 2));
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

async function status(args: string[], env: Env, io: DbIO): Promise<number> {
  const p = parseArgs(args, ['schema']);
  rejectUnknown(p, ['schema', 'json']);
  const schema = one(p, 'schema') ?? (env.DAG_DB_SCHEMA?.trim() || 'dagapp');
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
    if (p.switches.has('json')) io.out(JSON.stringify(body, null, 2));
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

async function generate(args: string[], env: Env, io: DbIO, root: string): Promise<number> {
  const p = parseArgs(args, []);
  rejectUnknown(p, ['dry-run']);
  if (p.positional.length !== 1) throw new ArgsError('name the migration, e.g. add_job_priority');
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
      name: p.positional[0]!,
      dir: migrationsDir(root),
      dryRun: p.switches.has('dry-run'),
    });
    if (r.kind === 'up_to_date')
      io.out('the migrations already build what the models describe: nothing to generate');
    else if (p.switches.has('dry-run')) io.out(r.sql);
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
