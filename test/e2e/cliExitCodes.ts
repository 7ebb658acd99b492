// The exit-code contract of `dagmaster run` and `start` (0 completed; 1 failed, cancelled or could
// not start; 2 invalid workflow, inputs or usage), defined once and run with the embedded Postgres
// and with DATABASE_URL (cliExitCodes.*.test.ts). After every run: nothing left in the temp
// directory, no private workflow copy under .data/, and (embedded) no server left running.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CliProcess,
  cliDir,
  dagmaster,
  ROOT,
  serversOf,
  workflowFiles,
  type CliDir,
  type PostgresMode,
} from './cliHarness';

export function exitCodeMatrix(mode: PostgresMode): void {
  describe(`dagmaster exit codes (${mode} Postgres)`, () => {
    let dir: CliDir;
    const file = (name: keyof typeof workflowFiles, text?: string) => {
      const f = path.join(dir.cwd, `${name}.yaml`);
      writeFileSync(f, text ?? (workflowFiles[name] as string));
      return f;
    };
    beforeAll(() => {
      dir = cliDir(mode);
    });
    afterEach(() => {
      expect(dir.tmpLeftovers()).toEqual([]);
      expect(serversOf(dir)).toEqual([]);
    });
    afterAll(async () => {
      await dir.cleanup();
    });

    it('0 when the job completes', async () => {
      const r = await dagmaster(['run', path.join(ROOT, 'workflows', 'hello_world.yaml'), '--json'], dir);
      expect(r.err).toContain('submitted');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).job.status).toBe('completed');
    }, 180_000);

    it.each([
      ['a fail handler', 'failing', /Node "boom" failed: nope/],
      ['a timeout', 'timeout', /timed out after 1s/],
      ['a template error', 'templateError', /echo/],
      ['a failed fan-out child', 'failedChild', /cli_child|child/],
    ] as const)(
      '1 when the job fails: %s',
      async (_what, name, message) => {
        const r = await dagmaster(['run', file(name)], dir);
        expect(r.out).toMatch(/: failed/);
        expect(r.out).toMatch(message);
        expect(r.code).toBe(1);
      },
      180_000,
    );

    it('1 when the job is cancelled by Ctrl-C (SIGINT to the whole process group)', async () => {
      const p = new CliProcess(['run', file('slow', workflowFiles.slow(120)), '--json'], dir);
      const [, jobId] = await p.waitFor(/job (\w+) submitted/);
      await new Promise((r) => setTimeout(r, 1500));
      p.interruptGroup();
      const r = await p.exited;
      expect(r.err).toContain(`cancelling job ${jobId}`);
      expect(r.code).toBe(1);
      const body = JSON.parse(r.out);
      expect(body.job.status).toBe('cancelled');
      expect(body.job.error_message).toMatch(/cancelled: interrupted \(Ctrl-C\)/);
    }, 180_000);

    it('2 for an invalid workflow, a missing file, invalid inputs and usage errors', async () => {
      const bad = await dagmaster(['run', file('invalid')], dir);
      expect(bad.code).toBe(2);
      expect(bad.out).toMatch(/invalid\.yaml:4:\d+: nodes\.start\.next: next "nowhere" is not a node/);
      const missing = await dagmaster(['run', 'no/such/workflow.yaml'], dir);
      expect(missing.code).toBe(2);
      expect(missing.err).toContain('the workflow file no/such/workflow.yaml does not exist');
      const inputs = await dagmaster(
        ['run', path.join(ROOT, 'workflows', 'echo_test.yaml'), '--input', '{"count": "3"}'],
        dir,
      );
      expect(inputs.code).toBe(2);
      expect(inputs.err).toContain('required input "message" (string) is missing');
      expect(inputs.err).toContain('input "count" must be an integer, got the string "3"');
      const inputFile = await dagmaster(['run', 'hello_world', '--input-file', 'nope.json'], dir);
      expect(inputFile.code).toBe(2);
      expect(inputFile.err).toContain('the input file nope.json does not exist');
      const option = await dagmaster(['run', 'hello_world', '--inptu', '{}'], dir);
      expect(option.code).toBe(2);
      expect(option.err).toContain('unknown option --inptu for "run" (did you mean --input?)');
      expect((await dagmaster(['run', 'no_such_workflow'], dir)).code).toBe(2);
    }, 180_000);

    it('start: 2 for a port that is not a number, 1 for a port in use', async () => {
      const abc = await dagmaster(['start', '--port', 'abc'], dir);
      expect(abc.code).toBe(2);
      expect(abc.err).toContain('--port must be a port number');
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const busy = await dagmaster(['start', '--port', String(port)], dir);
        expect(busy.code).toBe(1);
        expect(busy.err).toContain(`port ${port} is in use`);
        const runBusy = await dagmaster(
          ['run', path.join(ROOT, 'workflows', 'hello_world.yaml'), '--port', String(port)],
          dir,
        );
        expect(runBusy.code).toBe(1);
      } finally {
        server.close();
      }
    }, 180_000);
  });
}
