// The composition root: the ONLY file that registers functions (app.* / df.app.*). The Functions
// host loads it on Azure (package.json main → dist/functions/index.js); the dev host loads the same
// file locally and in every test.
import { app, type HttpHandler, type HttpMethod } from '@azure/functions';
import * as df from 'durable-functions';
import { ACTIVITY, ORCHESTRATION } from '../activities/contracts';
import { enqueueContainerTasks } from '../activities/enqueueContainerTasks';
import { loadJob } from '../activities/loadJob';
import { recordTransitions } from '../activities/recordTransitions';
import { runTasks } from '../activities/runTasks';
import { settleAttempts } from '../activities/settleAttempts';
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
import { keyCheck, staticAsset, ui } from './httpUi';
import { uiAssets } from './httpUiAssets';
import { getWorkflow, getWorkflows } from './httpWorkflows';
import { onContainerResult } from './queueResults';
import { resetServices, services } from './services';
import { reconcileJobs } from './timerReconcile';

// Orchestrations: control flow only (replayed); activities do the I/O.
df.app.orchestration(ORCHESTRATION.job, dagJob);
df.app.orchestration(ORCHESTRATION.fanOut, dagFanOut);
df.app.orchestration(ORCHESTRATION.fanOutChunk, dagFanOutChunk);

df.app.activity(ACTIVITY.loadJob, { handler: (input: unknown) => loadJob(services().activityDeps(), input) });
df.app.activity(ACTIVITY.recordTransitions, {
  handler: (input: unknown) => recordTransitions(services().activityDeps(), input),
});
df.app.activity(ACTIVITY.runTasks, {
  handler: (input: unknown) => runTasks(services().activityDeps(), input),
});
df.app.activity(ACTIVITY.settleAttempts, {
  handler: (input: unknown) => settleAttempts(services().activityDeps(), input),
});
df.app.activity(ACTIVITY.enqueueContainerTasks, {
  handler: (input: unknown) => enqueueContainerTasks(services().activityDeps(), input),
});

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

// Postgres ↔ Durable reconciliation.
app.timer('reconcileJobs', {
  schedule: '%DAG_RECONCILE_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: reconcileJobs,
});

app.hook.appTerminate(() => resetServices());
