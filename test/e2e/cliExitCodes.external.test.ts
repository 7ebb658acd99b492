// The CLI's exit codes with the external Postgres (the matrix is in cliExitCodes.ts).
import { exitCodeMatrix } from './cliExitCodes';

exitCodeMatrix('external');
