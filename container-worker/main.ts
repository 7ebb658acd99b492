// Process entry of the container worker: `node dist/container-worker/main.js` in the image,
// `node --import tsx container-worker/main.ts` from the source. Configured from the environment
// (docs/container-worker.md).
import './telemetrySetup';
import { runWorkerProcess } from './runWorkerProcess';

void runWorkerProcess();
