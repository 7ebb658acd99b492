// `dagmaster start`: the local stack as a service until Ctrl-C or SIGTERM. Exit 0 after a clean
// stop, 1 when it could not start (a port in use, a stack already running on this .data/), 2 for
// usage errors.
import path from 'node:path';
import { loadConfig } from '../functions/config';
import { optionalString, type Command } from './cliCommand';
import { startLocalStack } from './localStack';
import { parsePort } from './parsePort';
import { describeStartError } from './runCommand';

export const startCommand: Command = {
  name: 'start',
  synopsis: 'start [--port 7071]',
  summary:
    'Run the local stack as a service on http://127.0.0.1:7071 until Ctrl-C or SIGTERM; while it\n' +
    'runs, .data/stack.json tells the other commands (submit, jobs, cancel, upload, run) where it is.',
  options: {
    port: { type: 'string', value: 'N', description: 'the API port (default 7071; 0: a free one)' },
  },
  positionals: { min: 0, max: 0, what: 'no arguments' },
  details:
    'Without DAG_API_KEY the API is open to every local user of this machine; set it to require\n' +
    'the key (x-functions-key or ?code=) on every route but the probes.',
  async run(args, io) {
    const port = parsePort(optionalString(args, 'port'), 7071);
    const config = loadConfig();
    // Signals that arrive while the stack starts end it as soon as it is up.
    let stopRequested = false;
    const early = () => {
      stopRequested = true;
    };
    process.on('SIGINT', early).on('SIGTERM', early);
    let stack;
    try {
      stack = await startLocalStack({
        command: 'start',
        port,
        workflowsDir: path.resolve(config.DAG_WORKFLOWS_DIR),
        say: (s) => io.err(s),
      });
    } catch (err) {
      io.err(`dagmaster start: the local stack could not start: ${describeStartError(err, port)}`);
      return 1;
    } finally {
      process.off('SIGINT', early).off('SIGTERM', early);
    }
    io.out(`rmhdagmaster is running on ${stack.url}`);
    io.out(`  API:      ${stack.url}/api/jobs, ${stack.url}/api/workflows, ${stack.url}/api/health`);
    io.out(`  Postgres: ${stack.databaseUrl.replace(/:[^:@/]*@/, ':***@')} (schema ${stack.schema})`);
    if (!process.env.DAG_API_KEY) {
      io.err(
        'warning: DAG_API_KEY is not set, so the API needs no key: any local user of this machine can submit and cancel jobs',
      );
    }
    if (stack.unfinishedJobs.length) {
      io.err(`resuming ${stack.unfinishedJobs.length} unfinished job(s) (dagmaster jobs lists them)`);
    }
    io.out('Ctrl-C stops it.');
    if (!stopRequested) {
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    io.err('stopping…');
    // A second signal while stopping quits at once (the servers stop on their own).
    const quit = () => {
      stack.abandon();
      process.exit(130);
    };
    process.once('SIGINT', quit).once('SIGTERM', quit);
    await stack.stop();
    process.off('SIGINT', quit).off('SIGTERM', quit);
    return 0;
  },
};
