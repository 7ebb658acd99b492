// Issue 15's divergences from the Durable extension, on the Postgres store (see extensionParity.ts).
import { afterAll, beforeAll } from 'vitest';
import { startDevHost, type DevHost } from '../../devhost';
import { createTestSchema, dropTestSchema, type TestSchema } from '../support/pg';
import { captureLogger, defineParityTests, parityApp } from './extensionParity';

const logLines: string[] = [];
let schema: TestSchema | undefined;
let host: DevHost | undefined;

beforeAll(async () => {
  schema = await createTestSchema('parity');
  host = await startDevHost({
    appEntry: parityApp,
    store: 'postgres',
    // The Durable store is the dev host's own (the extension's storage account), not the app's
    // tables: it is created by the administrator as in test/devhost/postgresStore.test.ts.
    databaseUrl: schema.adminUrl,
    storeSchema: schema.schema,
    testMode: true,
    pollIntervalMs: 200,
    logger: captureLogger(logLines),
  });
});

afterAll(async () => {
  await host?.stop();
  if (schema) await dropTestSchema(schema);
});

defineParityTests(() => {
  if (!host) throw new Error('dev host not started');
  return host;
}, logLines);
