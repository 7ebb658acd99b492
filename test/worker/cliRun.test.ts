// `dagmaster run` of the seed workflows whose task nodes run on the container worker that
// cli/localStack.ts starts beside the dev host (docs/container-worker.md, "Locally").
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, dropTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';

const ROOT = path.join(__dirname, '..', '..');
const SEEDS = path.join(ROOT, '..', 'shared', 'fixtures', 'seed-workflows');
const seed = (f: string) =>
  existsSync(path.join(SEEDS, f)) ? path.join(SEEDS, f) : path.join(ROOT, 'workflows', f);

let schema: TestSchema;
const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-worker-'));

function dagmaster(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'dagmaster.js'), ...args],
      {
        cwd: dir,
        env: {
          ...process.env,
          DATABASE_URL: TEST_DATABASE_URL,
          DAG_DB_SCHEMA: schema.schema,
          DAG_STAC_SCHEMA: schema.stacSchema,
          LOG_LEVEL: 'error',
        },
        encoding: 'utf8',
        timeout: 150_000,
      },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, out: stdout, err: stderr });
      },
    );
  });
}

describe('dagmaster run with the container worker', () => {
  beforeAll(async () => {
    schema = await createTestSchema('cliw');
  });
  afterAll(async () => {
    await dropTestSchema(schema);
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema.schema}_durable" CASCADE`);
    await c.end();
  });

  it('hello_world and echo_test complete', async () => {
    const hello = await dagmaster(['run', seed('hello_world.yaml'), '--json']);
    expect(hello.code).toBe(0);
    expect(JSON.parse(hello.out).job.result_data.hello).toEqual({ message: 'Hello from DAG!' });
    const echo = await dagmaster([
      'run',
      seed('echo_test.yaml'),
      '--input',
      '{"message": "via the worker"}',
      '--json',
    ]);
    expect(echo.code).toBe(0);
    expect(JSON.parse(echo.out).job.result_data.echo_handler).toMatchObject({
      echoed_params: { message: 'via the worker', count: 1 },
      handler: 'echo',
    });
  }, 200_000);

  it('fan_out_test aggregates 3 results in index order', async () => {
    const r = await dagmaster([
      'run',
      seed('fan_out_test.yaml'),
      '--input',
      '{"item_list": ["alpha", "bravo", "charlie"]}',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const agg = JSON.parse(r.out).job.result_data.aggregate as {
      results: Array<{ echoed_params: unknown }>;
      count: number;
    };
    expect(agg.count).toBe(3);
    expect(agg.results.map((x) => x.echoed_params)).toEqual([
      { item_value: 'alpha', item_index: 0 },
      { item_value: 'bravo', item_index: 1 },
      { item_value: 'charlie', item_index: 2 },
    ]);
  }, 200_000);
});
