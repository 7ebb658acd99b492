// `dagmaster submit`: a job to a running stack (the one on this .data/ by default) or to Azure.
import type { Command } from './cliCommand';
import { API_OPTIONS, apiTarget } from './apiTarget';
import { exitCodeOf, follow, submit, summarize } from './jobClient';
import { INPUT_OPTIONS, readInputs } from './readInputs';

export const submitCommand: Command = {
  name: 'submit',
  synopsis: 'submit <workflow_id> [--input JSON | --input-file F] [--wait] [--json] [--url U] [--key K]',
  summary:
    'Submit a job to a running stack or to Azure and print its id; with --wait follow it to its end\n' +
    '(exit 0 completed, 1 failed or cancelled). 400 and 404 answers exit 2 with every problem.',
  options: {
    ...INPUT_OPTIONS,
    wait: { type: 'boolean', description: 'follow the job to its end and print it' },
    json: { type: 'boolean', description: 'print JSON' },
    ...API_OPTIONS,
  },
  positionals: { min: 1, max: 1, what: 'one workflow id' },
  async run(args, io) {
    const { url, key } = apiTarget(args);
    const inputs = readInputs(args);
    const json = args.values.json === true;
    const r = await submit(url, args.positionals[0]!, inputs, key);
    for (const w of r.warnings ?? []) io.err(`warning: ${w}`);
    if (args.values.wait !== true) {
      io.out(json ? JSON.stringify(r) : r.job_id);
      return 0;
    }
    const d = await follow(url, r.job_id, { ...(key ? { key } : {}), tty: process.stderr.isTTY === true });
    io.out(json ? JSON.stringify(d, null, 2) : summarize(d));
    return exitCodeOf(d.job.status);
  },
};
