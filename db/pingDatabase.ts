// Whether a Postgres answers: one round trip, for checks that must not depend on the schema (the CLI's
// `dagmaster settings` before it writes a settings file).
import { query, type Queryable } from './queryable';
import { sql } from './sql';

export async function pingDatabase(db: Queryable): Promise<void> {
  await query(db, sql`SELECT 1`);
}
