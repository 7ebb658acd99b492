// The commands that work on files and need no running stack: validate, schema, upload.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatIssue } from '../dag/workflowIssue';
import { workflowJsonSchema } from '../dag/workflowJsonSchema';
import { renderDdl } from '../db/generateDdl';
import { loadConfig } from '../functions/config';
import { listWorkflowFiles, loadWorkflowFiles } from '../functions/workflowCatalog';
import { defaultRegistry } from '../handlers/handlerRegistry';
import { optionalString, UsageError, type Command } from './cliCommand';
import { BLOB_TARGET, uploadFile } from './uploadFile';

export const validateCommand: Command = {
  name: 'validate',
  synopsis: 'validate <file|dir>...',
  summary:
    'Check workflow files with the full load-time validation and print one\n' +
    '`file:line:col: path: message (hint)` line per problem (warnings say "warning:").\n' +
    'Exit 0 when every file is valid (warnings allowed), 1 otherwise.',
  options: {},
  positionals: { min: 1, max: Infinity, what: 'at least one workflow file or directory' },
  async run(args, io) {
    const config = loadConfig();
    const files: string[] = [];
    let problems = 0;
    for (const a of args.positionals) {
      try {
        files.push(...listWorkflowFiles(a));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        io.out(
          `${a}:1:1: ${code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${(err as Error).message}`}`,
        );
        problems++;
      }
    }
    const catalog = loadWorkflowFiles(files, {
      handlers: defaultRegistry().catalog(),
      activityQueues: config.DAG_ACTIVITY_QUEUES,
      defaultContainerQueue: config.DAG_CONTAINER_QUEUE,
      workerQueues: config.DAG_WORKER_QUEUES,
    });
    let warnings = 0;
    for (const f of catalog.files) {
      for (const issue of [...f.issues, ...(f.warnings ?? [])].sort(
        (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0),
      )) {
        io.out(formatIssue(issue));
        if (issue.severity === 'warning') warnings++;
        else problems++;
      }
    }
    const valid = catalog.files.filter((f) => f.plan).length;
    io.err(
      `${valid} of ${catalog.files.length} workflow file(s) valid, ${problems} problem(s)${warnings ? `, ${warnings} warning(s)` : ''}`,
    );
    return problems ? 1 : 0;
  },
};

export const schemaCommand: Command = {
  name: 'schema',
  synopsis: 'schema --json-schema | --ddl [--schema NAME]',
  summary:
    'Print the workflow JSON Schema (generated from the zod model; point your editor at it) or the\n' +
    'SQL DDL of the Postgres state.',
  options: {
    'json-schema': { type: 'boolean', description: 'the workflow JSON Schema' },
    ddl: { type: 'boolean', description: 'the SQL DDL' },
    schema: {
      type: 'string',
      value: 'NAME',
      description: 'the Postgres schema (default DAG_DB_SCHEMA or dagapp)',
    },
  },
  positionals: { min: 0, max: 0, what: 'no arguments' },
  async run(args, io) {
    const json = args.values['json-schema'] === true;
    const ddl = args.values.ddl === true;
    if (json === ddl) throw new UsageError('use one of --json-schema or --ddl');
    if (json) io.out(JSON.stringify(workflowJsonSchema(), null, 2));
    else io.out(renderDdl(optionalString(args, 'schema') ?? process.env.DAG_DB_SCHEMA ?? 'dagapp'));
    return 0;
  },
};

export const uploadCommand: Command = {
  name: 'upload',
  synopsis: 'upload <local file> <container>/<blob>',
  summary:
    'Put a file into blob storage: DAG_STORAGE_CONNECTION or AzureWebJobsStorage when set, else the\n' +
    "running local stack's Azurite, else a temporary Azurite on .data/azurite (which `run` uses next).",
  options: {},
  positionals: { min: 2, max: 2, what: 'a local file and <container>/<blob>' },
  async run(args, io) {
    const [file, target] = args.positionals as [string, string];
    if (!existsSync(file)) throw new UsageError(`the file ${file} does not exist`);
    if (!statSync(file).isFile()) throw new UsageError(`${file} is not a file`);
    if (!BLOB_TARGET.test(target)) {
      throw new UsageError(
        `"${target}" is not <container>/<blob> (container: 3-63 lowercase letters, digits and dashes)`,
      );
    }
    const r = await uploadFile(path.resolve(file), target, { say: (s) => io.err(s) });
    io.out(`uploaded ${r.bytes} bytes to ${r.url}`);
    return 0;
  },
};
