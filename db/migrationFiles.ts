// The versioned SQL migrations in db/migrations/: `NNNN_name.sql` files, generated from the models by
// `dagmaster db generate-migration <name>` (db/generateMigration.ts), reviewed, committed, and never
// edited again. db/migrations/checksums.json records each file's SHA-256 when it was generated; a file
// that no longer matches its recorded checksum is refused (by CI and by `dagmaster db migrate`), so a
// released migration cannot change under a database that already ran it.
//
// The SQL names the schemas and the apps' role through placeholders, substituted as quoted identifiers
// when a migration runs: ${schema} (DAG_DB_SCHEMA), ${stac_schema} (DAG_STAC_SCHEMA) and ${app_role}.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DbError } from './errors';
import { sql } from './sql';

export const MIGRATION_FILE = /^(\d{4})_([a-z0-9][a-z0-9_]*)\.sql$/;
export const CHECKSUMS_FILE = 'checksums.json';

export interface Migration {
  /** 1, 2, ... (the file's NNNN). */
  version: number;
  /** The file name without the number and extension, e.g. `initial`. */
  name: string;
  file: string;
  /** The SQL as checked in, with placeholders. */
  sql: string;
  /** SHA-256 (hex) of the text with line endings normalised to \n. */
  checksum: string;
}

/** Names a migration substitutes into its SQL. */
export interface MigrationTarget {
  /** The schema of the dag_* tables (DAG_DB_SCHEMA). */
  schema: string;
  /** The schema of the STAC catalog tables (DAG_STAC_SCHEMA). */
  stacSchema: string;
  /** The role the apps' logins belong to; the migrations GRANT it exactly what the apps need. */
  appRole: string;
}

export const PLACEHOLDERS = {
  schema: '${schema}',
  stacSchema: '${stac_schema}',
  appRole: '${app_role}',
} as const;

export function checksumOf(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');
}

/** db/migrations beside the sources, also when running from dist/ (dist/db → ../../db/migrations). */
export function defaultMigrationsDir(): string {
  const candidates = [
    path.join(__dirname, 'migrations'),
    path.join(__dirname, '..', '..', 'db', 'migrations'),
  ];
  return candidates.find((d) => existsSync(path.join(d, CHECKSUMS_FILE))) ?? candidates[0]!;
}

export function readChecksums(dir: string): Record<string, string> {
  const f = path.join(dir, CHECKSUMS_FILE);
  if (!existsSync(f)) return {};
  try {
    const parsed = JSON.parse(readFileSync(f, 'utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, string>;
  } catch (err) {
    throw new DbError('CONFIG', `${f} is not a JSON object of file → sha256: ${(err as Error).message}.`);
  }
}

/**
 * Reads and checks every migration of dir, in version order: names NNNN_name.sql, versions 1..n without
 * gaps or duplicates, and each file's content equal to the checksum recorded when it was generated.
 */
export function loadMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  if (!existsSync(dir)) {
    throw new DbError(
      'CONFIG',
      `The migrations directory ${dir} does not exist. It ships with the app (db/migrations).`,
    );
  }
  const sums = readChecksums(dir);
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (file === CHECKSUMS_FILE) continue;
    const m = MIGRATION_FILE.exec(file);
    if (!m) {
      if (file.endsWith('.sql'))
        throw new DbError(
          'CONFIG',
          `${path.join(dir, file)}: migration files are named NNNN_name.sql (lowercase name).`,
        );
      continue;
    }
    const text = readFileSync(path.join(dir, file), 'utf8');
    out.push({ version: Number(m[1]), name: m[2]!, file, sql: text, checksum: checksumOf(text) });
  }
  out.forEach((mig, i) => {
    if (mig.version !== i + 1) {
      throw new DbError(
        'CONFIG',
        `${path.join(dir, mig.file)}: expected migration number ${String(i + 1).padStart(4, '0')} here (numbers run 0001, 0002, ... without gaps or repeats).`,
      );
    }
    const recorded = sums[mig.file];
    if (recorded === undefined) {
      throw new DbError(
        'CONFIG',
        `${path.join(dir, mig.file)} has no checksum in ${CHECKSUMS_FILE}: migrations are written by \`dagmaster db generate-migration\` (or \`dagmaster db new-migration\` for hand-written SQL), which records it.`,
      );
    }
    if (recorded !== mig.checksum) {
      throw new DbError(
        'CONFIG',
        `${path.join(dir, mig.file)} was changed after it was generated (sha256 ${mig.checksum}, recorded ${recorded}). ` +
          'A migration is immutable once merged: restore the file and put the change in a new migration.',
      );
    }
  });
  for (const f of Object.keys(sums)) {
    if (!out.some((m) => m.file === f))
      throw new DbError(
        'CONFIG',
        `${CHECKSUMS_FILE} records ${f}, which is missing from ${dir}: a released migration must never be deleted.`,
      );
  }
  return out;
}

/** A name that can be put into a migration: quoted as an identifier; `$` and `'` are refused (DO blocks, literals). */
export function checkTargetName(what: string, name: string): string {
  if (!name || Buffer.byteLength(name) > 63 || name.includes('\u0000') || /[$']/.test(name)) {
    throw new DbError(
      'CONFIG',
      `${what} ${JSON.stringify(name)} cannot be used by the migrations: 1-63 bytes, without $, ' or NUL.`,
    );
  }
  return sql.ident(name).text;
}

/** The SQL of a migration with its placeholders replaced by the target's quoted identifiers. */
export function renderMigration(text: string, t: MigrationTarget): string {
  const values: Record<string, string> = {
    [PLACEHOLDERS.schema]: checkTargetName('schema', t.schema),
    [PLACEHOLDERS.stacSchema]: checkTargetName('STAC schema', t.stacSchema),
    [PLACEHOLDERS.appRole]: checkTargetName('app role', t.appRole),
  };
  return text.replace(/\$\{([a-z_]+)\}/g, (whole) => {
    const v = values[whole];
    if (v === undefined)
      throw new DbError(
        'CONFIG',
        `Unknown placeholder ${whole} in a migration (known: ${Object.keys(values).join(', ')}).`,
      );
    return v;
  });
}

export function migrationFileName(version: number, name: string): string {
  return `${String(version).padStart(4, '0')}_${name}.sql`;
}

/** Turns a free-form name into the file-name form: lowercase letters, digits and underscores. */
export function migrationSlug(name: string): string {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 60);
  if (!slug || !/^[a-z0-9]/.test(slug))
    throw new DbError(
      'VALIDATION',
      `"${name}" is not a usable migration name: use letters, digits and underscores (e.g. add_job_priority).`,
    );
  return slug;
}
