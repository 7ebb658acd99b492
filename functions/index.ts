// The composition root: the ONLY file that registers functions (app.* / df.app.*). The Functions
// host loads it on Azure (package.json main → dist/functions/index.js); the dev host loads the same
// file locally and in every test.
// Application Insights first (a no-op without APPLICATIONINSIGHTS_CONNECTION_STRING): its
// instrumentations must see pg, http and the Azure SDK load.
import './telemetrySetup';
import { app, type HttpHandler, type HttpMethod } from '@azure/functions';
import * as df from 'durable-functions';
import type { ActivityDeps } from '../activities/activityDeps';
import { ACTIVITY, ORCHESTRATION } from '../activities/contracts';
import { enqueueContainerTasks } from '../activities/enqueueContainerTasks';
import { loadJob } from '../activities/loadJob';
import { recordTransitions } from '../activities/recordTransitions';
import { runTasks } from '../activities/runTasks';
import { settleAttempts } from '../activities/settleAttempts';
import { traceActivity } from '../activities/traceActivity';
import { shutdownTelemetry } from '../handlers/telemetry';
import { dagFanOut } from '../orchestrations/dagFanOut';
import { dagFanOutChunk } from '../orchestrations/dagFanOutChunk';
import { dagJob } from '../orchestrations/dagJob';
import { route } from './http';
import {
  getBootstrapDdl,
  getBootstrapStatus,
  getBootstrapTables,
  postBootstrapDeploy,
  postBootstrapMigrate,
  postBootstrapRebuild,
} from './httpBootstrap';
import {
  getJobDetail,
  getJobEvents,
  getJobNodes,
  getJobs,
  getStatusJob,
  getStatusJobs,
  postCancel,
  postGatewaySubmit,
  postJob,
  postRetry,
} from './httpJobs';
import {
  deleteAssetRoute,
  getAssetAudit,
  getAssetRoute,
  getAssets,
  getLatestVersion,
  getVersionRoute,
  getVersions,
  postApprove,
  postClearance,
  postReject,
  postReprocess,
  postRestore,
} from './httpAssets';
import {
  deleteLayerMetadataRoute,
  getLayerMetadataList,
  getLayerMetadataRoute,
  postLayerMetadata,
  putLayerMetadata,
} from './httpLayerMetadata';
import {
  getPlatformRoute,
  getPlatforms,
  getPlatformStatus,
  patchPlatform,
  postActivatePlatform,
  postDeactivatePlatform,
  postDomainSubmit,
  postPlatform,
  postPlatformSubmit,
  postSeedPlatforms,
} from './httpPlatform';
import { health, livez, readyz } from './httpProbes';
import { getWorkflow, getWorkflows } from './httpWorkflows';
import { onContainerResult } from './queueResults';
import { resetServices, services } from './services';
import { reconcileJobs } from './timerReconcile';

// Orchestrations: control flow only (replayed); activities do the I/O.
df.app.orchestration(ORCHESTRATION.job, dagJob);
df.app.orchestration(ORCHESTRATION.fanOut, dagFanOut);
df.app.orchestration(ORCHESTRATION.fanOutChunk, dagFanOutChunk);

// Each activity call is a span of its job's trace (activities/traceActivity.ts).
function activity(name: string, fn: (deps: ActivityDeps, input: unknown) => Promise<unknown>): void {
  df.app.activity(name, {
    handler: (input: unknown) => {
      const deps = services().activityDeps();
      return traceActivity(deps, name, input, () => fn(deps, input));
    },
  });
}
activity(ACTIVITY.loadJob, loadJob);
activity(ACTIVITY.recordTransitions, recordTransitions);
activity(ACTIVITY.runTasks, runTasks);
activity(ACTIVITY.settleAttempts, settleAttempts);
activity(ACTIVITY.enqueueContainerTasks, enqueueContainerTasks);

type Auth = 'anonymous' | 'function' | 'admin';

function http(
  name: string,
  methods: HttpMethod[],
  path: string,
  authLevel: Auth,
  handler: HttpHandler,
  durableClient = false,
) {
  app.http(name, {
    route: path,
    methods,
    authLevel,
    ...(durableClient ? { extraInputs: [df.input.durableClient()] } : {}),
    handler: route(handler as Parameters<typeof route>[0]),
  });
}

// Jobs (SPEC §5).
http('jobsSubmit', ['POST'], 'jobs', 'function', postJob, true);
http('jobsList', ['GET'], 'jobs', 'function', getJobs);
http('jobsGet', ['GET'], 'jobs/{id}', 'function', getJobDetail);
http('jobsNodes', ['GET'], 'jobs/{id}/nodes', 'function', getJobNodes);
http('jobsEvents', ['GET'], 'jobs/{id}/events', 'function', getJobEvents);
http('jobsCancel', ['POST'], 'jobs/{id}/cancel', 'function', postCancel, true);
http('jobsRetry', ['POST'], 'jobs/{id}/retry', 'function', postRetry, true);

// Workflows.
http('workflowsList', ['GET'], 'workflows', 'function', getWorkflows);
http('workflowsGet', ['GET'], 'workflows/{id}', 'function', getWorkflow);

// Probes: anonymous.
http('livez', ['GET'], 'livez', 'anonymous', livez);
http('readyz', ['GET'], 'readyz', 'anonymous', readyz);
http('health', ['GET'], 'health', 'anonymous', health);

// Schema lifecycle: admin key.
http('bootstrapStatus', ['GET'], 'bootstrap/status', 'admin', getBootstrapStatus);
http('bootstrapTables', ['GET'], 'bootstrap/tables', 'admin', getBootstrapTables);
http('bootstrapDdl', ['GET'], 'bootstrap/ddl', 'admin', getBootstrapDdl);
http('bootstrapDeploy', ['POST'], 'bootstrap/deploy', 'admin', postBootstrapDeploy);
http('bootstrapMigrate', ['POST'], 'bootstrap/migrate', 'admin', postBootstrapMigrate);
http('bootstrapRebuild', ['POST'], 'bootstrap/rebuild', 'admin', postBootstrapRebuild);

// Seed compatibility (the original gateway's routes).
http('gatewaySubmit', ['POST'], 'gateway/submit', 'function', postGatewaySubmit, true);
http('statusJob', ['GET'], 'status/job/{id}', 'function', getStatusJob);
http('statusJobs', ['GET'], 'status/jobs', 'function', getStatusJobs);
http('adminHealth', ['GET'], 'admin/health', 'function', health);

// ---------------------------------------------------------------------------------------------------
// The platform layer: geospatial assets, versions, review and clearance (docs/domain.md).
http('platformSubmit', ['POST'], 'platform/submit', 'function', postPlatformSubmit, true);
http('domainSubmit', ['POST'], 'v1/domain/submit', 'function', postDomainSubmit, true);
http('platformStatus', ['GET'], 'platform/status/{request_id}', 'function', getPlatformStatus);
http('platformsList', ['GET'], 'platforms', 'function', getPlatforms);
http('platformsGet', ['GET'], 'platforms/{platform_id}', 'function', getPlatformRoute);
http('platformsCreate', ['POST'], 'platforms', 'admin', postPlatform);
http('platformsUpdate', ['PATCH'], 'platforms/{platform_id}', 'admin', patchPlatform);
http('platformsDeactivate', ['POST'], 'platforms/{platform_id}/deactivate', 'admin', postDeactivatePlatform);
http('platformsActivate', ['POST'], 'platforms/{platform_id}/activate', 'admin', postActivatePlatform);
http('bootstrapSeedPlatforms', ['POST'], 'bootstrap/seed-platforms', 'admin', postSeedPlatforms);
http('assetsList', ['GET'], 'assets', 'function', getAssets);
http('assetsGet', ['GET'], 'assets/{id}', 'function', getAssetRoute);
http('assetsDelete', ['DELETE'], 'assets/{id}', 'function', deleteAssetRoute);
http('assetsRestore', ['POST'], 'assets/{id}/restore', 'function', postRestore);
http('assetsClearance', ['POST'], 'assets/{id}/clearance/{level}', 'function', postClearance);
http('assetsAudit', ['GET'], 'assets/{id}/audit', 'function', getAssetAudit);
http('versionsList', ['GET'], 'assets/{id}/versions', 'function', getVersions);
http('versionsLatest', ['GET'], 'assets/{id}/versions/latest', 'function', getLatestVersion);
http('versionsGet', ['GET'], 'assets/{id}/versions/{ordinal}', 'function', getVersionRoute);
http('versionsApprove', ['POST'], 'assets/{id}/versions/{ordinal}/approve', 'function', postApprove);
http('versionsReject', ['POST'], 'assets/{id}/versions/{ordinal}/reject', 'function', postReject);
http(
  'versionsReprocess',
  ['POST'],
  'assets/{id}/versions/{ordinal}/reprocess',
  'function',
  postReprocess,
  true,
);
http('layerMetadataList', ['GET'], 'layer-metadata', 'function', getLayerMetadataList);
http('layerMetadataCreate', ['POST'], 'layer-metadata', 'function', postLayerMetadata);
http('layerMetadataGet', ['GET'], 'layer-metadata/{asset_id}', 'function', getLayerMetadataRoute);
http('layerMetadataUpdate', ['PUT'], 'layer-metadata/{asset_id}', 'function', putLayerMetadata);
http('layerMetadataDelete', ['DELETE'], 'layer-metadata/{asset_id}', 'function', deleteLayerMetadataRoute);
// ---------------------------------------------------------------------------------------------------

// Container results → the waiting orchestration.
app.storageQueue('containerResults', {
  queueName: '%DAG_RESULT_QUEUE%',
  connection: 'AzureWebJobsStorage',
  extraInputs: [df.input.durableClient()],
  handler: onContainerResult,
});

// Postgres ↔ Durable reconciliation.
app.timer('reconcileJobs', {
  schedule: '%DAG_RECONCILE_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: reconcileJobs,
});

// What telemetry is buffered is sent before the worker process ends.
app.hook.appTerminate(async () => {
  await resetServices();
  await shutdownTelemetry();
});
