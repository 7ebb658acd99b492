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
  JOB_ROUTE_SCHEMAS,
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
  ASSET_ROUTE_SCHEMAS,
} from './httpAssets';
import {
  deleteLayerMetadataRoute,
  getLayerMetadataList,
  getLayerMetadataRoute,
  postLayerMetadata,
  putLayerMetadata,
  LAYER_METADATA_ROUTE_SCHEMAS,
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
  PLATFORM_ROUTE_SCHEMAS,
} from './httpPlatform';
import { keyCheck, staticAsset, ui } from './httpUi';
import { uiAssets } from './httpUiAssets';
import {
  getAdminActiveJobs,
  getAdminConfig,
  getAdminFailedNodes,
  getAdminOrphans,
  getAdminRecentEvents,
  getAdminRunningNodes,
} from './compatAdmin';
import {
  getStatusJobEvents,
  getStatusJobNodes,
  getStatusLookup,
  getStatusStats,
  postGatewayBatch,
} from './compatGateway';
import { v1 } from './compatViews';
import {
  COMPAT_ROUTE_SCHEMAS,
  getHandlers,
  getOrchestratorStatus,
  getServiceInfo,
  getV1Job,
  getV1Jobs,
  getV1NodeEvents,
  getV1TestHandlers,
  getV1Timeline,
  getV1Workflow,
  getV1Workflows,
  postV1Cancel,
  postV1Job,
} from './httpCompat';
import { postCheckpointCallback, postTaskProgressCallback, postTaskResultCallback } from './httpCallbacks';
import { postHandlerTest } from './httpHandlerTest';
import { getApiDocs, getOpenApi } from './httpOpenApi';
import { getOrchestrationStatus, health, healthCheck, livez, readyz } from './httpProbes';
import { documentRoute } from './openapi';
import { getWorkflow, getWorkflows } from './httpWorkflows';
import { onJobMessage } from './queueJobs';
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

const ROUTE_SCHEMAS = [
  JOB_ROUTE_SCHEMAS,
  COMPAT_ROUTE_SCHEMAS,
  ASSET_ROUTE_SCHEMAS,
  PLATFORM_ROUTE_SCHEMAS,
  LAYER_METADATA_ROUTE_SCHEMAS,
];

function http(
  name: string,
  methods: HttpMethod[],
  path: string,
  authLevel: Auth,
  handler: HttpHandler,
  durableClient = false,
  wrap: typeof route = route,
) {
  const schemas = ROUTE_SCHEMAS.map((m) => m.get(handler)).find(Boolean) ?? {};
  documentRoute({ name, methods, route: path, authLevel, ...schemas });
  app.http(name, {
    route: path,
    methods,
    authLevel,
    ...(durableClient ? { extraInputs: [df.input.durableClient()] } : {}),
    handler: wrap(handler as Parameters<typeof route>[0]),
  });
}

/** A route of the original orchestrator's /api/v1 (errors also carry FastAPI's `detail`). */
function httpV1(
  name: string,
  methods: HttpMethod[],
  path: string,
  handler: HttpHandler,
  durableClient = false,
) {
  http(name, methods, path, 'function', handler, durableClient, v1);
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
http('healthCheck', ['GET'], 'health/{check}', 'anonymous', healthCheck);
http('handlersList', ['GET'], 'handlers', 'function', getHandlers);
http('handlersTest', ['POST'], 'handlers/{name}/test', 'admin', postHandlerTest, true);

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
http('gatewaySubmitBatch', ['POST'], 'gateway/submit/batch', 'function', postGatewayBatch, true);
http('statusStats', ['GET'], 'status/stats', 'function', getStatusStats);
http('statusOrchestrations', ['GET'], 'status/orchestrations', 'function', getOrchestrationStatus, true);
http('statusLookup', ['GET'], 'status/lookup', 'function', getStatusLookup);
http('statusJobNodes', ['GET'], 'status/job/{id}/nodes', 'function', getStatusJobNodes);
http('statusJobEvents', ['GET'], 'status/job/{id}/events', 'function', getStatusJobEvents);
http('adminActiveJobs', ['GET'], 'admin/active-jobs', 'function', getAdminActiveJobs);
http('adminRecentEvents', ['GET'], 'admin/recent-events', 'function', getAdminRecentEvents);
http('adminRunningNodes', ['GET'], 'admin/running-nodes', 'function', getAdminRunningNodes);
http('adminFailedNodes', ['GET'], 'admin/failed-nodes', 'function', getAdminFailedNodes);
http('adminConfig', ['GET'], 'admin/config', 'function', getAdminConfig);
http('adminOrphans', ['GET'], 'admin/orphans', 'function', getAdminOrphans);
http('gatewayHealth', ['GET'], 'gateway/health', 'function', health);
// The original gateway's layer metadata paths (the same routes as /api/layer-metadata).
http('adminLayerMetadataList', ['GET'], 'admin/layer-metadata', 'function', getLayerMetadataList);
http('adminLayerMetadataCreate', ['POST'], 'admin/layer-metadata', 'function', postLayerMetadata);
http('adminLayerMetadataGet', ['GET'], 'admin/layer-metadata/{asset_id}', 'function', getLayerMetadataRoute);
http('adminLayerMetadataUpdate', ['PUT'], 'admin/layer-metadata/{asset_id}', 'function', putLayerMetadata);
http(
  'adminLayerMetadataDelete',
  ['DELETE'],
  'admin/layer-metadata/{asset_id}',
  'function',
  deleteLayerMetadataRoute,
);

// The original orchestrator's API (docs/compatibility.md): adapters over the routes above.
// The generated OpenAPI document of every route above and below, and its reference page.
http('openApi', ['GET'], 'openapi.json', 'anonymous', getOpenApi);
http('apiDocs', ['GET'], 'docs', 'anonymous', getApiDocs);

// The original's GET / : the Functions host owns / (every route is under /api), so it is /api/v1 and /api/info.
http('serviceInfo', ['GET'], 'info', 'anonymous', getServiceInfo);
http('v1ServiceInfo', ['GET'], 'v1', 'anonymous', getServiceInfo, false, v1);
httpV1('v1OrchestratorStatus', ['GET'], 'v1/orchestrator/status', getOrchestratorStatus);
httpV1('v1WorkflowsList', ['GET'], 'v1/workflows', getV1Workflows);
httpV1('v1WorkflowsGet', ['GET'], 'v1/workflows/{id}', getV1Workflow);
httpV1('v1JobsSubmit', ['POST'], 'v1/jobs', postV1Job, true);
httpV1('v1JobsList', ['GET'], 'v1/jobs', getV1Jobs);
httpV1('v1JobsGet', ['GET'], 'v1/jobs/{id}', getV1Job);
httpV1('v1JobsCancel', ['POST'], 'v1/jobs/{id}/cancel', postV1Cancel, true);
httpV1('v1JobsTimeline', ['GET'], 'v1/jobs/{id}/timeline', getV1Timeline);
httpV1('v1NodeEvents', ['GET'], 'v1/jobs/{id}/nodes/{node}/events', getV1NodeEvents);
httpV1('v1TestHandlers', ['GET'], 'v1/test/handlers', getV1TestHandlers);
// Results of workers outside the product (the original worker's HTTP reporter).
httpV1('v1CallbackTaskResult', ['POST'], 'v1/callbacks/task-result', postTaskResultCallback);
httpV1('v1CallbackTaskProgress', ['POST'], 'v1/callbacks/task-progress', postTaskProgressCallback);
httpV1('v1CallbackCheckpoint', ['POST'], 'v1/callbacks/checkpoint', postCheckpointCallback);

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

// The operator dashboard (docs/dashboard.md): anonymous for the host, the app asks for the key itself
// (a login form; the key is checked by the host on ui/keycheck, which is function-level).
http('uiOverview', ['GET'], 'ui', 'anonymous', ui.overview);
http('uiJobs', ['GET'], 'ui/jobs', 'anonymous', ui.jobs);
http('uiJob', ['GET'], 'ui/jobs/{id}', 'anonymous', ui.job);
http('uiJobState', ['GET'], 'ui/jobs/{id}/state', 'anonymous', ui.jobState);
http('uiJobEvents', ['GET'], 'ui/jobs/{id}/events', 'anonymous', ui.jobEvents);
http('uiJobChildren', ['GET'], 'ui/jobs/{id}/children/{node}', 'anonymous', ui.children);
http('uiJobCancel', ['POST'], 'ui/jobs/{id}/cancel', 'anonymous', ui.cancel, true);
http('uiJobRerun', ['POST'], 'ui/jobs/{id}/rerun', 'anonymous', ui.rerun, true);
http('uiNodes', ['GET'], 'ui/nodes', 'anonymous', ui.nodes);
http('uiHealth', ['GET'], 'ui/health', 'anonymous', ui.health);
http('uiAssets', ['GET'], 'ui/assets', 'anonymous', uiAssets.list);
http('uiAsset', ['GET'], 'ui/assets/{id}', 'anonymous', uiAssets.asset);
http('uiAssetReview', ['POST'], 'ui/assets/{id}/review', 'anonymous', uiAssets.review);
http('uiAssetClearance', ['POST'], 'ui/assets/{id}/clearance', 'anonymous', uiAssets.clearance);
http('uiWorkflows', ['GET'], 'ui/workflows', 'anonymous', ui.workflows);
http('uiWorkflow', ['GET'], 'ui/workflows/{id}', 'anonymous', ui.workflow);
http('uiWorkflowGraph', ['GET'], 'ui/workflows/{id}/graph', 'anonymous', ui.workflowGraph);
http('uiLogin', ['GET'], 'ui/login', 'anonymous', ui.login);
http('uiLoginPost', ['POST'], 'ui/login', 'anonymous', ui.loginPost);
http('uiLogout', ['POST'], 'ui/logout', 'anonymous', ui.logout);
http('uiStatic', ['GET'], 'ui/static/{file}', 'anonymous', staticAsset);
http('uiKeyCheck', ['GET'], 'ui/keycheck', 'function', keyCheck);

// Container results → the waiting orchestration.
app.storageQueue('containerResults', {
  queueName: '%DAG_RESULT_QUEUE%',
  connection: 'AzureWebJobsStorage',
  extraInputs: [df.input.durableClient()],
  handler: onContainerResult,
});

// Job submissions by queue (the original's DAG_JOB_QUEUE). The name is read at registration with the
// config's default, so a deployment without the setting still starts (a %SETTING% must exist).
app.storageQueue('jobIntake', {
  queueName: (process.env.DAG_JOB_QUEUE ?? '').trim() || 'dag-jobs',
  connection: 'AzureWebJobsStorage',
  extraInputs: [df.input.durableClient()],
  handler: onJobMessage,
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
