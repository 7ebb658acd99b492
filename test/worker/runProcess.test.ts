// runProcess: argument arrays (no shell), streamed output, errors with the stderr tail, and on abort
// the whole process group is stopped (SIGTERM, then SIGKILL for a child that ignores it).
import { describe, expect, it } from 'vitest';
import { ProcessError, runProcess, runningProcessGroups } from '../../container-worker';
import { isAlive, waitFor } from './support';

describe('runProcess', () => {
  it('passes arguments verbatim (no shell) and streams stdout line by line', async () => {
    const lines: string[] = [];
    const r = await runProcess('printf', ['%s\\n', '$(echo injected)', 'a b; rm -rf /', 'three'], {
      onStdout: (l) => lines.push(l),
    });
    expect(r.code).toBe(0);
    expect(lines).toEqual(['$(echo injected)', 'a b; rm -rf /', 'three']);
    expect(r.stdout).toBe('$(echo injected)\na b; rm -rf /\nthree\n');
  });

  it('rejects on a non-zero exit with the command and the tail of stderr', async () => {
    const err = await runProcess('sh', ['-c', 'echo first >&2; echo "the real reason" >&2; exit 3']).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProcessError);
    expect((err as ProcessError).message).toBe(
      'sh -c "echo first >&2; echo \\"the real reason\\" >&2; exit 3" exited with code 3: first\nthe real reason',
    );
    expect((err as ProcessError).result.code).toBe(3);
    const ok = await runProcess('sh', ['-c', 'exit 4'], { allowNonZeroExit: true });
    expect(ok.code).toBe(4);
  });

  it('rejects when the command does not exist', async () => {
    await expect(runProcess('/no/such/gdal_translate', [])).rejects.toThrow(/could not start: .*ENOENT/);
  });

  it('feeds stdin', async () => {
    const r = await runProcess('cat', [], { input: 'from stdin' });
    expect(r.stdout).toBe('from stdin');
  });

  it('on abort stops the whole process group, grandchildren included', async () => {
    const ac = new AbortController();
    const pids: number[] = [];
    const p = runProcess('sh', ['-c', 'sleep 300 & echo $!; sleep 300 & echo $!; echo $$; wait'], {
      signal: ac.signal,
      onStdout: (l) => pids.push(Number(l)),
    });
    await waitFor('three pids', () => pids.length === 3);
    expect(pids.every(isAlive)).toBe(true);
    ac.abort(new Error('The job was cancelled'));
    const err = (await p.catch((e: unknown) => e)) as ProcessError;
    expect(err.aborted).toBe(true);
    expect(err.message).toMatch(/stopped \(SIGTERM\): The job was cancelled$/);
    await waitFor('all gone', () => pids.every((pid) => !isAlive(pid)));
    expect(runningProcessGroups()).toEqual([]);
  });

  it('a child that ignores SIGTERM is killed after the grace period', async () => {
    const ac = new AbortController();
    let ready = false;
    const p = runProcess('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'], {
      signal: ac.signal,
      killGraceMs: 300,
      onStdout: (l) => (ready ||= l === 'ready'),
    });
    await waitFor('trap installed', () => ready);
    ac.abort(new Error('timeout'));
    const err = (await p.catch((e: unknown) => e)) as ProcessError;
    expect(err.aborted).toBe(true);
    expect(err.result.signal).toBe('SIGKILL');
  });

  it('does not start when the signal has already fired', async () => {
    const ac = new AbortController();
    ac.abort(new Error('shutting down'));
    await expect(runProcess('sleep', ['10'], { signal: ac.signal })).rejects.toThrow(
      'sleep 10: not started: shutting down',
    );
  });
});
