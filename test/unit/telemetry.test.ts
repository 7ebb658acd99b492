// Telemetry helpers that need no ingestion endpoint: secret scrubbing (logs, span attributes,
// command lines), the trace context in task messages within the 64 KiB rule, and telemetry off
// loading nothing of the SDK. The end-to-end behaviour is test/e2e/telemetry.test.ts.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTaskMessage } from '../../activities/buildTaskMessage';
import { encodedMessageBytes, QUEUE_MESSAGE_MAX_BYTES } from '../../lib/containerMessages';
import { createLogger } from '../../handlers/createLogger';
import { displayCommand, registerSecretValues, scrubSecrets } from '../../handlers/scrubSecrets';

const ROOT = path.join(__dirname, '..', '..');

describe('scrubSecrets', () => {
  it.each([
    [
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net',
      'c2VjcmV0a2V5MTIzNDU2Nzg5MA==',
    ],
    [
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=x;SharedAccessKey=abcDEF123456789=',
      'abcDEF123456789=',
    ],
    [
      'https://acct.blob.core.windows.net/c/b.tif?sv=2024-01-01&se=2030&sig=Zm9vYmFyYmF6cXV4%3D',
      'Zm9vYmFyYmF6cXV4%3D',
    ],
    ['postgres://dagapp:Sup3rS3cret@db.postgres.database.azure.com:5432/geo', 'Sup3rS3cret'],
    ['host=db user=app password=hunter2hunter2 dbname=x', 'hunter2hunter2'],
    ['{"user":"a","password":"p4ssw0rd!"}', 'p4ssw0rd!'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdef', 'eyJhbGciOiJIUzI1NiJ9'],
    ['GET /api/jobs?code=FunctionKeyValue123== HTTP/1.1', 'FunctionKeyValue123=='],
    ['AZURE_STORAGE_SAS_TOKEN=sv=2024&sig=abc PGPASSWORD=pgpw1234 ogr2ogr', 'pgpw1234'],
  ])('removes the secret from %s', (text, secret) => {
    const out = scrubSecrets(text);
    expect(out).not.toContain(secret);
    expect(out).toContain('***');
  });

  it('keeps text without secrets as it is', () => {
    const text =
      'Node "create_cog" failed: gdal_translate exited 1 (ERROR 4: /vsiaz/bronze/a.tif: No such file)';
    expect(scrubSecrets(text)).toBe(text);
  });

  it('removes the literal values of secret settings wherever they appear', () => {
    registerSecretValues({
      DAG_PGSTAC_URL: 'postgres://stac:LiteralPw42@h/db',
      DAG_API_KEY: 'abcdefghijklmnop123',
    });
    expect(scrubSecrets('could not connect with LiteralPw42 / key abcdefghijklmnop123')).toBe(
      'could not connect with *** / key ***',
    );
  });

  it('a text scrubbed before a secret was registered is scrubbed again after (results are remembered per text)', () => {
    const text = 'token-without-punctuation-Zq93kdlw0PqA';
    expect(scrubSecrets(text)).toBe(text);
    expect(scrubSecrets(text)).toBe(text); // the remembered result
    registerSecretValues({ DAG_SOME_TOKEN: 'Zq93kdlw0PqA' });
    expect(scrubSecrets(text)).toBe('token-without-punctuation-***');
    // Same answer from the memo as from the patterns, for a text the patterns change.
    const sas = 'GET https://a.blob.core.windows.net/c/x.tif?sv=2022&sig=SiGnAtUrE123 200';
    expect(scrubSecrets(sas)).toBe(scrubSecrets(sas));
    expect(scrubSecrets(sas)).not.toContain('SiGnAtUrE123');
  });

  it('a GDAL command line keeps its program and paths, loses its SAS token and keys', () => {
    const shown = displayCommand('gdal_translate', [
      '-of',
      'COG',
      '/vsicurl/https://acct.blob.core.windows.net/in/a.tif?sv=2024&sig=SasSig0123456789',
      '--config',
      'AZURE_STORAGE_ACCESS_KEY',
      'K3yValue0123456789==',
      '/mnt/etl/out.tif',
    ]);
    expect(shown).toContain(
      'gdal_translate -of COG /vsicurl/https://acct.blob.core.windows.net/in/a.tif?sv=2024&sig=***',
    );
    expect(shown).toContain('/mnt/etl/out.tif');
    expect(shown).not.toContain('SasSig0123456789');
    expect(shown).not.toContain('K3yValue0123456789');
  });

  it('log lines are scrubbed on stdout too', () => {
    const lines: string[] = [];
    const log = createLogger({}, { LOG_FORMAT: 'json' }, (l) => lines.push(l));
    log.error('open failed', { url: 'https://a.blob.core.windows.net/c/x?sig=LogSecret999' });
    expect(lines.join('\n')).not.toContain('LogSecret999');
  });
});

describe('trace context in task messages', () => {
  const spec = (params: unknown, traceparent?: string) => ({
    taskId: 'j_n_0',
    jobId: 'j',
    nodeId: 'n',
    attempt: 0,
    handler: 'echo',
    params,
    timeoutSeconds: 60,
    deadline: new Date('2030-01-01T00:00:00Z'),
    correlationId: null,
    replyTo: 'j',
    resultQueue: 'dag-task-results',
    workflowId: 'wf',
    ...(traceparent ? { traceparent } : {}),
  });
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('carries the traceparent, and the 64 KiB rule counts it: params go to the database when the whole message would not fit', () => {
    // The largest params that fit without a traceparent (binary search on the padding)…
    const fits = (n: number) => !buildTaskMessage(spec({ data: 'x'.repeat(n) })).params_in_db;
    let lo = 0;
    let hi = QUEUE_MESSAGE_MAX_BYTES;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    const n = lo;
    const without = buildTaskMessage(spec({ data: 'x'.repeat(n) }));
    expect(without.params_in_db).toBe(false);
    // …do not fit with one: the message keeps its trace context and leaves the params in Postgres.
    const withTp = buildTaskMessage(spec({ data: 'x'.repeat(n) }, tp));
    expect(withTp.traceparent).toBe(tp);
    expect(withTp.params_in_db).toBe(true);
    expect(encodedMessageBytes(withTp)).toBeLessThanOrEqual(QUEUE_MESSAGE_MAX_BYTES);
    const small = buildTaskMessage(spec({ a: 1 }, tp));
    expect(small).toMatchObject({
      traceparent: tp,
      workflow_id: 'wf',
      params: { a: 1 },
      params_in_db: false,
    });
  });
});

describe('telemetry off', () => {
  it('loads nothing of the SDK: the app and worker modules load without applicationinsights or any OpenTelemetry SDK', () => {
    const script = `
      const t = require('./handlers/telemetry');
      require('./container-worker');
      require('./handlers/createLogger').createLogger({}, { LOG_LEVEL: 'error' }).info('x');
      const on = t.initTelemetry('worker', {});
      const loaded = Object.keys(require.cache).filter((k) => /node_modules\\/(applicationinsights|@azure\\/monitor-opentelemetry|@opentelemetry\\/(sdk-|instrumentation))/.test(k));
      console.log(JSON.stringify({ on, loaded: loaded.length }));`;
    const env = { ...process.env };
    delete env.APPLICATIONINSIGHTS_CONNECTION_STRING;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: ROOT,
      env,
    }).toString();
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ on: false, loaded: 0 });
  });
});
