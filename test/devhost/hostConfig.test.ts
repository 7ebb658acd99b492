// host.json reading, %SETTING% resolution, TimeSpans and route templates.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevHost } from '../../devhost';
import { readLocalSettings, resolveAppSettings } from '../../devhost/appSettings';
import { loadHostConfig } from '../../devhost/hostConfig';
import { compareRoutes, compileRoute } from '../../devhost/routeTemplate';
import { formatTimeSpan, parseTimeSpanMs } from '../../devhost/timeSpan';
import { sampleApp } from './helpers';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function hostJson(content: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devhost-hostjson-'));
  dirs.push(dir);
  const file = path.join(dir, 'host.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('host.json', () => {
  it('reads the settings the dev host honours', () => {
    const c = loadHostConfig(
      hostJson({
        version: '2.0',
        extensions: {
          durableTask: {
            hubName: '%HUB%',
            maxConcurrentActivityFunctions: 3,
            maxConcurrentOrchestratorFunctions: 2,
          },
          queues: {
            batchSize: 8,
            newBatchThreshold: 1,
            maxPollingInterval: '00:00:02',
            visibilityTimeout: '00:00:30',
            maxDequeueCount: 2,
          },
          http: { routePrefix: '/v1/' },
        },
        logging: { anything: true },
      }),
      { HUB: 'MyHub' },
    );
    expect(c).toMatchObject({
      hubName: 'MyHub',
      maxConcurrentActivityFunctions: 3,
      maxConcurrentOrchestratorFunctions: 2,
      queues: {
        batchSize: 8,
        newBatchThreshold: 1,
        maxPollingIntervalMs: 2000,
        visibilityTimeoutMs: 30_000,
        maxDequeueCount: 2,
      },
      routePrefix: 'v1',
    });
    expect(
      loadHostConfig(hostJson({ extensions: { queues: { maxPollingInterval: 2000 } } }), {}).queues
        .maxPollingIntervalMs,
    ).toBe(2000);
  });

  it('explains invalid settings and missing app settings', () => {
    expect(() => loadHostConfig(hostJson({ extensions: { queues: { batchSize: 64 } } }), {})).toThrow(
      /invalid host\.json: extensions\.queues\.batchSize/,
    );
    expect(() =>
      loadHostConfig(hostJson({ extensions: { queues: { visibilityTimeout: 'soon' } } }), {}),
    ).toThrow(/"soon" is not a TimeSpan/);
    expect(() =>
      loadHostConfig(hostJson({ extensions: { durableTask: { hubName: '%NOPE%' } } }), {}),
    ).toThrow(/refers to app setting %NOPE%, which is not set/);
  });

  it('applies local.settings.json next to host.json (environment wins) and restores the environment', async () => {
    const file = hostJson({ extensions: { durableTask: { hubName: '%LOCAL_HUB%' } } });
    writeFileSync(
      path.join(path.dirname(file), 'local.settings.json'),
      JSON.stringify({
        IsEncrypted: false,
        Values: { LOCAL_HUB: 'FromLocalSettings', DEVHOST_PRESET: 'ignored' },
      }),
    );
    expect(readLocalSettings(path.join(path.dirname(file), 'local.settings.json'))).toMatchObject({
      LOCAL_HUB: 'FromLocalSettings',
    });
    process.env.DEVHOST_PRESET = 'kept';
    const host = await startDevHost({ appEntry: sampleApp, hostJsonPath: file, timerTriggers: false });
    try {
      expect(host.taskHub).toBe('FromLocalSettings');
      expect(process.env.DEVHOST_PRESET).toBe('kept');
    } finally {
      await host.stop();
      delete process.env.DEVHOST_PRESET;
    }
    expect(process.env.LOCAL_HUB).toBeUndefined();
  });

  it('resolves %SETTING% references and TimeSpans', () => {
    expect(resolveAppSettings('%A%-%B%', { A: 'x', B: 'y' }, 'test')).toBe('x-y');
    expect(parseTimeSpanMs('1.02:03:04.5', 't')).toBe(93_784_500);
    expect(formatTimeSpan(93_784_500)).toBe('1.02:03:04.500');
  });
});

describe('route templates', () => {
  it('matches parameters, constraints, optional and catch-all segments', () => {
    expect(compileRoute('jobs/{id:int}').match('jobs/12')).toEqual({ id: '12' });
    expect(compileRoute('jobs/{id:int}').match('jobs/x')).toBeUndefined();
    expect(compileRoute('JOBS/{id}').match('jobs/a%2Fb')).toEqual({ id: 'a/b' });
    expect(compileRoute('orchestrators/{name}/{id?}').match('orchestrators/x')).toEqual({ name: 'x' });
    expect(compileRoute('orchestrators/{name}/{id?}').match('orchestrators/x/y')).toEqual({
      name: 'x',
      id: 'y',
    });
    expect(compileRoute('files/{*path}').match('files/a/b/c')).toEqual({ path: 'a/b/c' });
    expect(compileRoute('files/{name}.{ext}').match('files/report.pdf')).toEqual({
      name: 'report',
      ext: 'pdf',
    });
    expect(compileRoute('n/{v:range(1,5)}').match('n/6')).toBeUndefined();
    expect(compileRoute('g/{id:guid}').match('g/6f9619ff-8b86-d011-b42d-00cf4fc964ff')).toBeDefined();
    expect(compileRoute('r/{code:regex(^[A-Z]{{3}}$)}').match('r/ABC')).toBeDefined();
    expect(() => compileRoute('x/{id:nonsense}')).toThrow(/unknown route constraint "nonsense"/);
  });

  it('orders literal before constrained before plain before catch-all', () => {
    const routes = ['jobs/{*rest}', 'jobs/{name}', 'jobs/special', 'jobs/{id:int}'].map(compileRoute);
    expect(routes.sort(compareRoutes).map((r) => r.template)).toEqual([
      'jobs/special',
      'jobs/{id:int}',
      'jobs/{name}',
      'jobs/{*rest}',
    ]);
  });
});
