// Process entry of the dev host:
//   node --import tsx devhost/main.ts --app functions/index.ts [--store memory|postgres] [--port 7071] ...
// Prints "listening on http://127.0.0.1:<port>" on stdout when ready; SIGINT/SIGTERM stop it
// gracefully. `--help` lists the options.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { errorMessage } from './devHostError';
import { launchAzurite, type AzuriteInstance } from './launchAzurite';
import { launchEmbeddedPostgres, type EmbeddedPostgresInstance } from './launchEmbeddedPostgres';
import { createLogger, parseLogLevel } from './logger';
import { startDevHost, type DevHost } from './startDevHost';

const usage = `Usage: node --import tsx devhost/main.ts --app <entry> [options]

  --app <file>                  module that registers the functions (.ts or .js)   (required)
  --store memory|postgres       history store (default: postgres when DATABASE_URL is set, else memory)
  --database-url <url>          Postgres for the postgres store (default: DATABASE_URL)
  --embedded-postgres           start an embedded Postgres (data in .data/postgres) when no URL is given
  --store-schema <name>         schema of the dev host's tables (default devhost)
  --host <addr>                 interface to bind (default 127.0.0.1)
  --port <n>                    public port (default 7071; 0 = random)
  --host-json <file>            host.json (default: next to the app entry or above)
  --storage-connection-string   storage for queue triggers/outputs (default: AzureWebJobsStorage)
  --azurite                     start Azurite (temp data dir) and use it as AzureWebJobsStorage
  --api-key <key>               function key for non-anonymous routes (default: DAG_API_KEY)
  --task-hub <name>             Durable task hub (default: host.json hubName)
  --test-mode                   cross-check task ids with the SDK after every episode
  --log-level debug|info|warn|error|silent   (default: LOG_LEVEL or info)
`;

const Args = z.object({
  app: z.string().min(1, '--app is required'),
  store: z.enum(['memory', 'postgres']).optional(),
  'database-url': z.string().optional(),
  'embedded-postgres': z.boolean().optional(),
  'store-schema': z.string().optional(),
  host: z.string().optional(),
  port: z.coerce.number().int().min(0).max(65535).optional(),
  'host-json': z.string().optional(),
  'storage-connection-string': z.string().optional(),
  azurite: z.boolean().optional(),
  'api-key': z.string().optional(),
  'task-hub': z.string().optional(),
  'test-mode': z.boolean().optional(),
  'log-level': z.string().optional(),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: 'string' },
      store: { type: 'string' },
      'database-url': { type: 'string' },
      'embedded-postgres': { type: 'boolean' },
      'store-schema': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'host-json': { type: 'string' },
      'storage-connection-string': { type: 'string' },
      azurite: { type: 'boolean' },
      'api-key': { type: 'string' },
      'task-hub': { type: 'string' },
      'test-mode': { type: 'boolean' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const parsed = Args.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(
      `${parsed.error.issues.map((i) => `${i.path.join('.') || 'args'}: ${i.message}`).join('\n')}\n\n${usage}`,
    );
    process.exitCode = 2;
    return;
  }
  const a = parsed.data;
  const logLevel = parseLogLevel(a['log-level']);
  if (a['log-level'] && !logLevel)
    throw new Error(`--log-level ${a['log-level']}: use debug, info, warn, error or silent`);
  const logger = createLogger({ level: logLevel });

  // A bug in an app function (an unhandled rejection from a stray promise) must not take the host down.
  process.on('unhandledRejection', (reason) =>
    logger.error(`unhandled promise rejection in the app: ${errorMessage(reason)}`),
  );
  process.on('uncaughtException', (err) =>
    logger.error(`uncaught exception in the app: ${errorMessage(err)}`, { err }),
  );

  let azurite: AzuriteInstance | undefined;
  let postgres: EmbeddedPostgresInstance | undefined;
  let host: DevHost | undefined;
  const shutdown = async (code: number) => {
    await host?.stop().catch((err) => logger.error(`stop failed: ${errorMessage(err)}`));
    await azurite?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    process.exit(code);
  };
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      logger.info(`${sig}: stopping`);
      void shutdown(0);
    });
  }

  try {
    let databaseUrl = a['database-url'] ?? process.env.DATABASE_URL;
    const store = a.store ?? (databaseUrl || a['embedded-postgres'] ? 'postgres' : 'memory');
    if (store === 'postgres' && !databaseUrl) {
      postgres = await launchEmbeddedPostgres({ logger });
      databaseUrl = postgres.url;
    }
    let storageConnectionString = a['storage-connection-string'];
    if (a.azurite) {
      azurite = await launchAzurite({ logger });
      storageConnectionString = azurite.connectionString;
    }
    host = await startDevHost({
      appEntry: a.app,
      store,
      databaseUrl,
      storeSchema: a['store-schema'],
      host: a.host,
      port: a.port ?? 7071,
      hostJsonPath: a['host-json'],
      storageConnectionString,
      apiKey: a['api-key'],
      taskHub: a['task-hub'],
      testMode: a['test-mode'],
      logger,
    });
    process.stdout.write(`listening on ${host.url}\n`);
  } catch (err) {
    logger.error(errorMessage(err));
    await shutdown(1);
  }
}

void main();
