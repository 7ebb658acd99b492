// Would the app load under Azure Functions Core Tools (`func start`) and on Azure? Core Tools cannot be
// installed here, so these are the checks that can run: host.json against SchemaStore's schema (the one
// Functions tooling validates with), package.json main → the compiled entry registering every function
// the dev host registers, package versions the extension bundle supports, local.settings.example.json
// holding every setting the app reads (and docs/configuration.md describing it), and no dev-host-only
// variable or module in the app.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv-draft-04';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');
const json = <T>(f: string) => JSON.parse(read(f)) as T;

function sources(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  return readdirSync(abs, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(path.join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [path.join(dir, e.name)]
        : [],
  );
}

// ---------------------------------------------------------------- host.json
const schema = json<Record<string, unknown>>('test/fixtures/schemastore/host.schema.json');
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema(schema, 'host');
// The branch for Functions v4 apps on extension bundle 3.x+ (the root's oneOf cannot pick it: a v2
// host.json without Service Bus settings matches both v2 branches, see test/fixtures/schemastore/README.md).
const validateV2 = ajv.getSchema('host#/definitions/version-2-ext-5')!;
const validateV1 = ajv.getSchema('host#/definitions/version-1')!;

describe('host.json', () => {
  it("is valid against SchemaStore's host.json schema (v2, extension bundle branch) and is not a v1 file", () => {
    const host = json<unknown>('host.json');
    expect(validateV2(host), JSON.stringify(validateV2.errors)).toBe(true);
    expect(validateV1(host)).toBe(false);
  });

  it('a broken host.json is refused with the failing path', () => {
    const host = json<Record<string, Record<string, Record<string, unknown>>>>('host.json');
    const cases: Array<[string, (h: typeof host) => void, string]> = [
      ['batchSize above 32', (h) => (h.extensions!.queues!.batchSize = 64), '/extensions/queues/batchSize'],
      [
        'unknown durableTask setting',
        (h) => ((h.extensions!.durableTask as Record<string, unknown>).maxConcurrentActivities = 4),
        '/extensions/durableTask',
      ],
      [
        'queue polling interval as a number',
        (h) => (h.extensions!.queues!.maxPollingInterval = 2000),
        '/extensions/queues/maxPollingInterval',
      ],
      [
        'functionTimeout of 25 hours',
        (h) => ((h as Record<string, unknown>).functionTimeout = '25:00:00'),
        '/functionTimeout',
      ],
      ['missing version', (h) => delete (h as Record<string, unknown>).version, ''],
    ];
    for (const [what, mutate, at] of cases) {
      const h = structuredClone(host);
      mutate(h);
      expect(validateV2(h), what).toBe(false);
      expect(
        validateV2.errors!.map((e) => e.instancePath),
        what,
      ).toContain(at);
    }
  });
});

// ---------------------------------------------------------------- the entry
function registrations(entry: string) {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', 'test/support/listRegistrations.ts', entry],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, LOG_LEVEL: 'error' },
    },
  );
  return JSON.parse(out) as {
    functions: Array<{
      name: string;
      kind: string;
      trigger: Record<string, unknown>;
      inputs: string[];
      outputs: string[];
    }>;
    modules: string[];
    envReads: string[];
  };
}

describe('package.json main (what Core Tools and Azure load)', () => {
  const pkg = json<{ main: string; dependencies: Record<string, string> }>('package.json');

  it('resolves to the compiled entry, which registers exactly the functions the dev host registers from the sources', () => {
    expect(pkg.main).toBe('dist/functions/index.js');
    expect(existsSync(path.join(ROOT, pkg.main)), `${pkg.main} (npm run build)`).toBe(true);
    const compiled = registrations(pkg.main);
    const source = registrations('functions/index.ts');
    expect(compiled.functions.length).toBeGreaterThanOrEqual(20);
    expect(compiled.functions).toEqual(source.functions);
    expect(compiled.functions.map((f) => f.kind)).toEqual(
      expect.arrayContaining(['http', 'orchestration', 'activity', 'queue', 'timer']),
    );
  });

  it('every handler exported by functions/http*, queue*, timer* is registered in functions/index.ts', () => {
    const index = read('functions/index.ts');
    expect(unregisteredHandlers(index)).toEqual([]);
    // The check fails on a function left out of the entry.
    const withoutResults = index.replace(/^app\.storageQueue\([\s\S]*?\n\}\);\n/m, '');
    expect(withoutResults).not.toBe(index);
    expect(unregisteredHandlers(withoutResults)).toEqual(['functions/queueResults.ts: onContainerResult']);
  });

  it('@azure/functions and durable-functions are versions the extension bundle in host.json supports', () => {
    const matrix = json<{
      programmingModel: Record<string, string>;
      extensionBundle: { id: string; minimum: string };
    }>('test/fixtures/functions-support-matrix.json');
    const installed = (p: string) => json<{ version: string }>(`node_modules/${p}/package.json`).version;
    for (const [p, major] of Object.entries(matrix.programmingModel)) {
      expect(installed(p).split('.')[0], p).toBe(major);
      expect(pkg.dependencies[p], p).toBe(installed(p)); // pinned
    }
    // The bundle requirement as durable-functions itself states it (re-read so an upgrade cannot drift).
    const readme = read('node_modules/durable-functions/README.md');
    const stated =
      /Version (\d+\.\d+) or higher of extension bundles is required for the v4 programming model/.exec(
        readme,
      );
    expect(stated?.[1]).toBe(matrix.extensionBundle.minimum.split('.').slice(0, 2).join('.'));
    // durable-functions' own dependency on @azure/functions is satisfied.
    const dfDep = json<{ dependencies: Record<string, string> }>(
      'node_modules/durable-functions/package.json',
    ).dependencies['@azure/functions']!;
    const [, dMaj, dMin] = /^\^(\d+)\.(\d+)/.exec(dfDep)!;
    const [aMaj, aMin] = installed('@azure/functions').split('.').map(Number);
    expect(aMaj === Number(dMaj) && aMin! >= Number(dMin)).toBe(true);
    // host.json: the bundle id and a range whose lowest version is at least the minimum.
    const bundle = json<{ extensionBundle: { id: string; version: string } }>('host.json').extensionBundle;
    expect(bundle.id).toBe(matrix.extensionBundle.id);
    expect(bundleRangeSatisfies(bundle.version, matrix.extensionBundle.minimum)).toBe(true);
    expect(bundleRangeSatisfies('[2.*, 3.0.0)', matrix.extensionBundle.minimum)).toBe(false);
    expect(bundleRangeSatisfies('[3.3.0, 4.0.0)', matrix.extensionBundle.minimum)).toBe(false);
  });
});

/** Handlers exported by functions/http*, queue*, timer* that an entry's text does not name. */
function unregisteredHandlers(index: string): string[] {
  const body = index.replace(/^import[\s\S]*?from '[^']+';$/gm, ''); // named in a registration, not just imported
  const missing: string[] = [];
  for (const f of sources('functions').filter((x) => /functions\/(http|queue|timer)[A-Z]\w*\.ts$/.test(x))) {
    for (const m of read(f).matchAll(/^export (?:const|async function|function) (\w+)/gm)) {
      const name = m[1]!;
      if (!/^(get|post|put|delete|on|reconcile|livez|readyz|health)/.test(name)) continue;
      if (!new RegExp(`\\b${name}\\b`).test(body)) missing.push(`${f}: ${name}`);
    }
  }
  return missing;
}

/** Whether every version an extension-bundle range ("[4.*, 5.0.0)") admits is ≥ minimum. */
function bundleRangeSatisfies(range: string, minimum: string): boolean {
  const m = /^\[\s*([\d*.]+)\s*,\s*([\d.]+)\s*\)$/.exec(range);
  if (!m) return false;
  const low = m[1]!.split('.').map((x) => (x === '*' ? 0 : Number(x)));
  const min = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const a = low[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

// ---------------------------------------------------------------- settings
/** Settings the app and the worker read: named in their code, or %NAME% in host.json. */
function settingsReadByCode(): Set<string> {
  const names = new Set<string>();
  const dirs = ['functions', 'activities', 'orchestrations', 'handlers', 'db', 'container-worker'];
  for (const f of dirs.flatMap(sources)) {
    for (const m of read(f).matchAll(
      /\b(DAG_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL|AzureWebJobsStorage|LOG_LEVEL|LOG_FORMAT|AZURE_CLIENT_ID|ALLOW_DESTRUCTIVE_BOOTSTRAP|APPLICATIONINSIGHTS_CONNECTION_STRING)\b/g,
    ))
      names.add(m[1]!);
  }
  for (const m of read('host.json').matchAll(/%([A-Za-z0-9_]+)%/g)) names.add(m[1]!);
  return names;
}

/** Settings of `read` missing from an example's Values. */
function missingSettings(values: Record<string, string>, readByCode: Set<string>): string[] {
  return [...readByCode].filter((n) => !(n in values)).sort();
}

const DOCS = ['docs/configuration.md', 'docs/database.md', 'docs/container-worker.md', 'docs/raster.md'];

describe('local.settings.example.json', () => {
  const example = json<{ IsEncrypted: boolean; Values: Record<string, string> }>(
    'local.settings.example.json',
  );

  it("holds every setting the app and the worker read, and Core Tools' own", () => {
    const readByCode = settingsReadByCode();
    expect(readByCode.size).toBeGreaterThan(40);
    expect(missingSettings(example.Values, readByCode)).toEqual([]);
    expect(example.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(example.IsEncrypted).toBe(false);
    // The check fails on a missing setting.
    const { DAG_TASK_HUB: _dropped, ...without } = example.Values;
    expect(missingSettings(without, readByCode)).toEqual(['DAG_TASK_HUB']);
    // Nothing in the example that no code reads (stale settings), besides the Functions host's own
    // (Core Tools reads them; the dev host honours the body limit too).
    const hostSettings = ['FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'];
    const extra = Object.keys(example.Values).filter((k) => !readByCode.has(k) && !hostSettings.includes(k));
    expect(extra).toEqual([]);
  });

  it('every setting in it is described in docs/configuration.md or the pages it links', () => {
    const docs = DOCS.map(read).join('\n');
    const undocumented = Object.keys(example.Values).filter((k) => !docs.includes(`\`${k}\``));
    expect(undocumented).toEqual([]);
  });

  it('its values load: the Function App, Postgres, worker and raster configurations accept it as it is', async () => {
    const { loadConfig } = await import('../../functions/config');
    const { loadDbConfig } = await import('../../db/createPool');
    const { loadWorkerConfig } = await import('../../container-worker/workerConfig');
    const { loadRasterConfig } = await import('../../handlers/raster/rasterConfig');
    const v = {
      ...example.Values,
      AzureWebJobsStorage:
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;',
    };
    expect(loadConfig(v)).toMatchObject({
      DAG_RESULT_QUEUE: 'dag-task-results',
      DAG_ENABLE_AUTO_BOOTSTRAP: false,
    });
    expect(loadDbConfig(v)).toMatchObject({ schema: 'dagapp', poolMax: 10, auth: 'password' });
    expect(loadWorkerConfig(v)).toMatchObject({
      queues: ['container-tasks', 'dag-worker-tasks'],
      healthPort: 7072,
    });
    expect(loadRasterConfig(v)).toMatchObject({ stacSchema: 'stac', mountPath: '.data/etl' });
  });
});

// ---------------------------------------------------------------- no dev-host-only behaviour
/** Variables only the dev host defines (its API key emulation; the test runner's marker). */
const DEVHOST_ONLY = ['DAG_API_KEY', 'VITEST', 'DEVHOST'];

describe('the app has no dev-host-only behaviour', () => {
  it('nothing under functions/, orchestrations/, activities/ imports devhost/ or cli/, or names a dev-host variable', () => {
    const offenders: string[] = [];
    for (const f of ['functions', 'orchestrations', 'activities'].flatMap(sources)) {
      const t = read(f);
      if (/from ['"](\.\.\/)+(devhost|cli)(\/|['"])/.test(t) || /require\(['"](\.\.\/)+(devhost|cli)/.test(t))
        offenders.push(`${f}: imports devhost/ or cli/`);
      for (const v of DEVHOST_ONLY) if (new RegExp(`\\b${v}`).test(t)) offenders.push(`${f}: ${v}`);
    }
    expect(offenders).toEqual([]);
  });

  it('loading the compiled app loads no dev-host or CLI module and reads no dev-host variable', () => {
    const r = registrations('dist/functions/index.js');
    // The capture itself (devhost/loadApp) runs from the sources; nothing compiled from devhost/ or cli/
    // is pulled in by the app's own modules (dist/functions, dist/orchestrations, ...).
    const app = r.modules.filter((m) =>
      /^dist\/(functions|orchestrations|activities|handlers|db|dag)\//.test(m),
    );
    expect(app.length).toBeGreaterThan(20);
    expect(r.modules.filter((m) => /^dist\/(devhost|cli)\//.test(m))).toEqual([]);
    expect(r.envReads.filter((k) => DEVHOST_ONLY.some((d) => k.startsWith(d)))).toEqual([]);
  });
});
