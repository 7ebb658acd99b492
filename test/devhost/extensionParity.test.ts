// Issue 15's divergences from the Durable extension, on the memory store (see extensionParity.ts).
import { captureLogger, defineParityTests, parityApp } from './extensionParity';
import { useDevHost } from './helpers';

const logLines: string[] = [];
const host = useDevHost({ appEntry: parityApp, logger: captureLogger(logLines) });

defineParityTests(host, logLines);
