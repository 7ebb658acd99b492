// `dagmaster run` / `submit` as a user runs them: a child process, exit codes 0/1/2, --json output.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, dropTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';
import { ROOT, startStack, type Stack } from './stack';
import pg from 'pg';

let schema: TestSchema;
const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-'));

/** Runs the CLI as a child process (asynchronously: the stack under test may live in this process). */
function dagmaster(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
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
          ...extraEnv,
        },
        encoding: 'utf8',
        timeout: 120_000,
      },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, out: stdout, err: stderr });
      },
    );
  });
}

beforeAll(async () => {
  schema = await createTestSchema('cli');
});
afterAll(async () => {
  await dropTestSchema(schema);
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema.schema}_durable" CASCADE`);
  await c.end();
});

describe('dagmaster run', () => {
  it('runs a shipped workflow end to end and prints the job as JSON (exit 0)', async () => {
    const r = await dagmaster([
      'run',
      path.join(ROOT, 'workflows', 'hello_world.yaml'),
      '--input',
      '{"message": "from the CLI"}',
      '--json',
    ]);
    expect(r.err).toContain('submitted');
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out);
    expect(body.job).toMatchObject({
      status: 'completed',
      result_data: { hello: { message: 'from the CLI' } },
    });
  }, 120_000);

  it('exits 1 when the job fails, naming the failure', async () => {
    const wf = path.join(dir, 'failing.yaml');
    writeFileSync(
      wf,
      'workflow_id: cli_failing\nname: f\nnodes:\n  start: {type: start, next: boom}\n  boom: {type: task, handler: fail, params: {error_message: nope}, retry: {max_attempts: 0}, next: end}\n  end: {type: end}\n',
    );
    const r = await dagmaster(['run', wf]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('error: Node "boom" failed: nope');
  }, 120_000);

  it('exits 2 for an invalid workflow or invalid inputs, before starting anything', async () => {
    const wf = path.join(dir, 'invalid.yaml');
    writeFileSync(
      wf,
      'workflow_id: cli_invalid\nname: i\nnodes:\n  start: {type: start, next: nowhere}\n  end: {type: end}\n',
    );
    const bad = await dagmaster(['run', wf]);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/invalid\.yaml:4:\d+: nodes\.start\.next: next "nowhere" is not a node/);
    const inputs = await dagmaster([
      'run',
      path.join(ROOT, 'workflows', 'echo_test.yaml'),
      '--input',
      '{"count": "3"}',
    ]);
    expect(inputs.code).toBe(2);
    expect(inputs.err).toContain('required input "message" (string) is missing');
    expect(inputs.err).toContain('input "count" must be an integer, got the string "3"');
    expect((await dagmaster(['run', 'no_such_workflow'])).code).toBe(2);
    expect(
      (await dagmaster(['run', path.join(ROOT, 'workflows', 'hello_world.yaml'), '--input', '{nope'])).code,
    ).toBe(2);
  }, 120_000);
});

describe('dagmaster submit', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('submits to a running stack and waits for the result', async () => {
    const r = await dagmaster([
      'submit',
      'hello_world',
      '--input',
      '{"message": "hi"}',
      '--wait',
      '--url',
      stack.url,
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).job.result_data.hello).toEqual({ message: 'hi' });
    const bad = await dagmaster(['submit', 'hello_world', '--input', '{"nope": 1}', '--url', stack.url]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('"nope" is not an input of workflow "hello_world"');
  }, 120_000);
});
