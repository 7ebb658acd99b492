// The CLI's exit codes with the embedded Postgres (the matrix is in cliExitCodes.ts).
import { exitCodeMatrix } from './cliExitCodes';

exitCodeMatrix('embedded');
