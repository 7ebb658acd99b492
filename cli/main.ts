// The dagmaster command (SPEC §6).
import { formatIssue } from '../dag/workflowIssue';
import { renderDdl } from '../db/generateDdl';
import { workflowJsonSchema } from '../dag/workflowJsonSchema';
import { loadConfig } from '../functions/config';
import { listWorkflowFiles, loadWorkflowFiles } from '../functions/workflowCatalog';
import { defaultRegistry } from '../handlers/handlerRegistry';

const USAGE = `usage: dagmaster <command> [options]

commands:
  validate <file|dir>...          check workflow files; prints file:line:col: message per problem
  schema --json-schema | --ddl    print the workflow JSON Schema or the SQL DDL
`;

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: CliIO = {
  out: (s) => process.stdout.write(s + '\n'),
  err: (s) => process.stderr.write(s + '\n'),
};

export async function runCli(argv: string[], io: CliIO = stdio): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'validate':
      return validate(rest, io);
    case 'schema':
      return schema(rest, io);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.err(`dagmaster: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

function validate(args: string[], io: CliIO): number {
  if (!args.length) {
    io.err('dagmaster validate: name at least one workflow file or directory');
    return 2;
  }
  const config = loadConfig();
  const files: string[] = [];
  for (const a of args) {
    try {
      files.push(...listWorkflowFiles(a));
    } catch (err) {
      io.err(`${a}:1:1: cannot read: ${(err as Error).message}`);
      return 1;
    }
  }
  const catalog = loadWorkflowFiles(files, {
    handlers: defaultRegistry().catalog(),
    activityQueues: config.DAG_ACTIVITY_QUEUES,
  });
  let problems = 0;
  for (const f of catalog.files) {
    for (const issue of f.issues) {
      io.out(formatIssue(issue));
      problems++;
    }
  }
  const valid = catalog.files.filter((f) => f.plan).length;
  io.err(`${valid} of ${catalog.files.length} workflow file(s) valid, ${problems} problem(s)`);
  return problems ? 1 : 0;
}

async function schema(args: string[], io: CliIO): Promise<number> {
  if (args.includes('--json-schema')) {
    io.out(JSON.stringify(workflowJsonSchema(), null, 2));
    return 0;
  }
  if (args.includes('--ddl')) {
    const schemaName = valueOf(args, '--schema') ?? process.env.DAG_DB_SCHEMA ?? 'dagapp';
    io.out(renderDdl(schemaName));
    return 0;
  }
  io.err('dagmaster schema: use --json-schema or --ddl [--schema NAME]');
  return 2;
}

function valueOf(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

export function main(argv: string[]): void {
  runCli(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`dagmaster: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
