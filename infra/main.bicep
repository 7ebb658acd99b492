// rmhdagmaster on Azure (docs/deployment.md): the Function App (HTTP API, Durable orchestrations and
// activities) on Flex Consumption, the container worker (Container Apps, GDAL image, scaled on its queues
// by KEDA with its managed identity), a Container Apps job that runs the schema migrations at deploy time,
// PostgreSQL Flexible Server with Microsoft Entra authentication only, storage, a container registry,
// Log Analytics and Application Insights.
//
// Three user-assigned identities, each with only what it needs:
//   func    — the Function App: its host storage (Functions, Durable, task queues), Postgres as a login in the app role
//   worker  — the worker: its task queues, sending results, reading bronze / writing silver COGs, AcrPull,
//             Postgres as a login in the app role
//   migrate — the migration job: the only Postgres (Entra) administrator, AcrPull
// No secret is an app setting or an output; the one key in use (the worker's SMB staging share, which
// Container Apps mounts with an account key only) stays inside this deployment.
//
// Sections live in modules/ (storage.bicep: the accounts, queues and the roles on them; containerApps.bicep:
// the worker and the migration job; monitoring, network, postgresFirewall, privateEndpoints): a module
// refers to what this file creates by name, through `existing` declarations.
//
// `azd up` provisions this file (azure.yaml). Every resource type@apiVersion and the properties used are
// checked in CI against the REST API specs (infra/api-versions.json, test/infra/bicep.test.ts), and so is
// the module wiring (parameters, outputs, the order `existing` references need).

targetScope = 'resourceGroup'

@description('The azd environment name (AZURE_ENV_NAME): every resource name is derived from it.')
@minLength(2)
@maxLength(40)
param environmentName string

param location string = resourceGroup().location

@description('Worker image; azd sets it to the image it built from container-worker/Dockerfile (a public placeholder runs until the first deploy).')
param workerImage string = 'mcr.microsoft.com/k8se/quickstart:latest'

@description('PostgreSQL compute (see pgMaxConnections and the connection budget below).')
@allowed([
  'Standard_B1ms'
  'Standard_B2s'
  'Standard_B2ms'
  'Standard_D2ds_v5'
  'Standard_D4ds_v5'
])
param postgresSku string = 'Standard_B2s'

@minValue(32)
param postgresStorageGB int = 32

@description('Route the apps through the server\'s built-in PgBouncer (port 6432; General Purpose and Memory Optimized tiers only).')
param enablePgBouncer bool = false

@description('Most Flex Consumption instances of the Function App (each opens up to functionDbPoolMax Postgres connections).')
@minValue(1)
@maxValue(1000)
param functionMaxInstances int = 40

@description('Postgres pool size of one Function App instance (DAG_DB_POOL_MAX).')
@minValue(1)
param functionDbPoolMax int = 5

@allowed([2048, 4096])
param functionInstanceMemoryMB int = 2048

@description('Always-ready instances of the "durable" group (orchestrations, activities): 0 scales to zero (first request after idle waits for a cold start); Learn recommends 1 for Durable Functions on Flex Consumption, billed while idle.')
@minValue(0)
@maxValue(10)
param functionAlwaysReadyDurable int = 0

@description('Most worker replicas (KEDA scales 0..N on the task queues).')
@minValue(1)
@maxValue(300)
param workerMaxReplicas int = 10

@description('Tasks one worker replica runs at once (DAG_WORKER_MAX_CONCURRENT).')
@minValue(1)
param workerMaxConcurrent int = 2

@description('Postgres pool size of one worker replica (DAG_DB_POOL_MAX; the worker uses at least maxConcurrent + 4).')
@minValue(1)
param workerDbPoolMax int = 6

@description('Private networking: VNet integration of both apps, private endpoints for Postgres and the storage accounts, public access to Postgres and the data account disabled.')
param enablePrivateNetworking bool = false

@description('Extra client addresses allowed through the Postgres firewall (public mode), e.g. an operator\'s IP.')
param postgresClientIps array = []

@description('Base URL of the TiTiler service the STAC items link to.')
param titilerUrl string = 'https://titiler.example.com'

@description('Base URL of the STAC API the STAC items link to.')
param stacApiUrl string = 'https://stac-api.example.com'

@description('Durable task hub name.')
param taskHub string = 'DagMaster'

@description('Postgres schema of the dag_* tables (DAG_DB_SCHEMA) and of the STAC tables (DAG_STAC_SCHEMA).')
param dbSchema string = 'dagapp'
param stacSchema string = 'stac'

// ---------------------------------------------------------------- names
// Storage accounts and registries take lowercase letters and digits only: the environment name is
// stripped of everything else and a unique suffix keeps the names global.
var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var slug = toLower(environmentName)
var alnum = take(replace(replace(replace(slug, '-', ''), '_', ''), '.', ''), 9)
var prefix = take(replace(replace(slug, '_', '-'), '.', '-'), 20)
var tags = { 'azd-env-name': environmentName }
var hostStorageName = take('sth${alnum}${token}', 24)
var dataStorageName = take('std${alnum}${token}', 24)
var etlStorageName = take('ste${alnum}${token}', 24)
var registryName = take('cr${alnum}${token}', 50)
var pgName = '${prefix}-pg-${take(token, 6)}'
var dbName = 'dagmaster'
var appRole = '${dbSchema}_app'

// ---------------------------------------------------------------- queues
var taskQueues = ['container-tasks', 'dag-worker-tasks']
var resultQueue = 'dag-task-results'
// Job submissions by queue (the original system's DAG_JOB_QUEUE): only the Function App reads it; its
// poison queue holds refused messages with their reason (docs/compatibility.md).
var jobQueue = 'dag-jobs'
// Every queue the product uses, declared (the apps never need to create one): task queues, the result
// queue, and the poison queue of each (`<queue>-poison`, written by the worker and the Functions host).
var queueNames = [
  'container-tasks'
  'container-tasks-poison'
  'dag-worker-tasks'
  'dag-worker-tasks-poison'
  'dag-task-results'
  'dag-task-results-poison'
]

// ---------------------------------------------------------------- Postgres connection budget
// max_connections of each SKU (learn.microsoft.com/azure/postgresql/flexible-server/concepts-limits);
// 15 of them are reserved by the service. The apps must fit in the rest:
//   functionMaxInstances × functionDbPoolMax
//   + workerMaxReplicas × (max(workerDbPoolMax, workerMaxConcurrent + 4) + min(workerDbPoolMax, 4))   [worker pool + STAC pool]
//   + migrationConnections + operatorConnections  ≤  max_connections − 15
// test/infra/bicep.test.ts evaluates this for the defaults and every allowed SKU.
var pgMaxConnections = {
  Standard_B1ms: 50
  Standard_B2s: 429
  Standard_B2ms: 859
  Standard_D2ds_v5: 859
  Standard_D4ds_v5: 1718
}
var pgReservedConnections = 15
var migrationConnections = 2
var operatorConnections = 10
var workerReplicaConnections = max(workerDbPoolMax, workerMaxConcurrent + 4) + min(workerDbPoolMax, 4)
var connectionDemand = functionMaxInstances * functionDbPoolMax + workerMaxReplicas * workerReplicaConnections + migrationConnections + operatorConnections
var connectionBudget = pgMaxConnections[postgresSku] - pgReservedConnections
var dbPort = enablePgBouncer ? '6432' : '5432'

// ---------------------------------------------------------------- built-in role definitions
// (the storage roles are in modules/storage.bicep)
var role = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

// ---------------------------------------------------------------- identities
resource funcIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}-func-id'
  location: location
  tags: tags
}

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}-worker-id'
  location: location
  tags: tags
}

resource migrateIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}-migrate-id'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- monitoring
resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${prefix}-logs-${take(token, 6)}'
  location: location
  tags: tags
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${prefix}-ai-${take(token, 6)}'
  location: location
  tags: tags
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: logs.id }
}

// The workbook and the alert rules on what both apps send (docs/monitoring.md).
module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    prefix: prefix
    location: location
    tags: tags
    insightsId: insights.id
  }
}

// ---------------------------------------------------------------- networking (optional)
module network 'modules/network.bicep' = if (enablePrivateNetworking) {
  name: 'network'
  params: {
    prefix: prefix
    location: location
    tags: tags
  }
}

// ---------------------------------------------------------------- storage (modules/storage.bicep)
// The host, data and ETL accounts, their containers, share and queues, and the apps' roles on them.
module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    hostStorageName: hostStorageName
    dataStorageName: dataStorageName
    etlStorageName: etlStorageName
    enablePrivateNetworking: enablePrivateNetworking
    queueNames: queueNames
    resultQueue: resultQueue
    jobQueue: jobQueue
    funcIdentityName: funcIdentity.name
    workerIdentityName: workerIdentity.name
  }
}

// ---------------------------------------------------------------- container registry
resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: { adminUserEnabled: false, anonymousPullEnabled: false }
}

resource acrPullRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in [workerIdentity.properties.principalId, migrateIdentity.properties.principalId]: {
    scope: registry
    name: guid(registry.id, principalId, role.acrPull)
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.acrPull)
    }
  }
]

// ---------------------------------------------------------------- PostgreSQL
// Children are created one after the other (administrator → database → parameters → firewall): in
// parallel they fail with ServerIsBusy / AAD administrator errors.
resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: pgName
  location: location
  tags: tags
  sku: { name: postgresSku, tier: startsWith(postgresSku, 'Standard_B') ? 'Burstable' : 'GeneralPurpose' }
  properties: {
    version: '16'
    storage: { storageSizeGB: postgresStorageGB, autoGrow: 'Enabled' }
    authConfig: { activeDirectoryAuth: 'Enabled', passwordAuth: 'Disabled', tenantId: subscription().tenantId }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
    network: { publicNetworkAccess: enablePrivateNetworking ? 'Disabled' : 'Enabled' }
  }
}

// The migration identity is the only administrator: the apps' identities become plain logins in the app
// role when the migration job creates them (`dagmaster db migrate --grant name:objectId`).
resource pgAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: postgres
  name: migrateIdentity.properties.principalId
  properties: {
    principalName: migrateIdentity.name
    principalType: 'ServicePrincipal'
    tenantId: subscription().tenantId
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: dbName
  properties: { charset: 'UTF8', collation: 'en_US.utf8' }
  dependsOn: [pgAdmin]
}

resource pgBouncer 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = if (enablePgBouncer) {
  parent: postgres
  name: 'pgbouncer.enabled'
  properties: { value: 'true', source: 'user-override' }
  dependsOn: [database]
}

// ---------------------------------------------------------------- Function App (Flex Consumption)
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${prefix}-plan-${take(token, 6)}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

var dbSettings = [
  { name: 'DAG_DB_HOST', value: postgres.properties.fullyQualifiedDomainName }
  { name: 'DAG_DB_PORT', value: dbPort }
  { name: 'DAG_DB_NAME', value: dbName }
  { name: 'DAG_DB_AUTH', value: 'entra' }
  { name: 'DAG_DB_SSL', value: 'require' }
  { name: 'DAG_DB_SCHEMA', value: dbSchema }
  { name: 'DAG_STAC_SCHEMA', value: stacSchema }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
  { name: 'LOG_FORMAT', value: 'json' }
]

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: '${prefix}-func-${take(token, 6)}'
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${funcIdentity.id}': {} } }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: enablePrivateNetworking ? network.outputs.functionsSubnetId : null
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.outputs.hostBlobEndpoint}${storage.outputs.deploymentsContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: funcIdentity.id }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: functionMaxInstances
        instanceMemoryMB: functionInstanceMemoryMB
        alwaysReady: functionAlwaysReadyDurable > 0 ? [{ name: 'durable', instanceCount: functionAlwaysReadyDurable }] : []
      }
      runtime: { name: 'node', version: '22' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: concat(
        [
          // Identity-based host storage: the Functions host, Durable (Azure Storage provider), the result queue trigger.
          { name: 'AzureWebJobsStorage__accountName', value: storage.outputs.hostStorageName }
          { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
          { name: 'AzureWebJobsStorage__clientId', value: funcIdentity.properties.clientId }
          { name: 'AZURE_CLIENT_ID', value: funcIdentity.properties.clientId }
          { name: 'DAG_DB_USER', value: funcIdentity.name }
          { name: 'DAG_DB_POOL_MAX', value: string(functionDbPoolMax) }
          { name: 'DAG_TASK_HUB', value: taskHub }
          { name: 'DAG_RESULT_QUEUE', value: resultQueue }
          { name: 'DAG_JOB_QUEUE', value: jobQueue }
          { name: 'DAG_QUEUE_SERVICE_URL', value: storage.outputs.hostQueueEndpoint }
          { name: 'DAG_RECONCILE_SCHEDULE', value: '0 */1 * * * *' }
          { name: 'DAG_WORKFLOWS_DIR', value: './workflows' }
          { name: 'DAG_WORKER_QUEUES', value: join(taskQueues, ',') }
          // A task message carries as many fan-out children as one worker replica runs at once, so
          // that KEDA's queue length (messages) counts replicas' worth of work (modules/containerApps.bicep).
          { name: 'DAG_TASKS_PER_MESSAGE', value: string(min(workerMaxConcurrent, 64)) }
          // The platform API's pre-flight reads bronze (see funcBronzeRole in modules/storage.bicep).
          { name: 'DAG_STORAGE_BLOB_URL', value: storage.outputs.dataBlobEndpoint }
          // The host stops reading a request body at the API's own 1 MiB limit (docs/api.md).
          { name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT', value: '1048576' }
        ],
        dbSettings
      )
    }
  }
  // After the storage module (its outputs above), so funcHostRoles exist when the host starts.
  dependsOn: [database]
}

// ---------------------------------------------------------------- Container Apps (modules/containerApps.bicep)
// The environment, the worker and the migration job. They start once the storage module (its outputs
// below: the worker's queue and blob roles included), the AcrPull roles and the database exist.
module containerApps 'modules/containerApps.bicep' = {
  name: 'container-apps'
  params: {
    prefix: prefix
    token: token
    location: location
    tags: tags
    workerImage: workerImage
    workerMaxReplicas: workerMaxReplicas
    workerMaxConcurrent: workerMaxConcurrent
    workerDbPoolMax: workerDbPoolMax
    titilerUrl: titilerUrl
    stacApiUrl: stacApiUrl
    appRole: appRole
    taskQueues: taskQueues
    resultQueue: resultQueue
    dbSettings: dbSettings
    enablePrivateNetworking: enablePrivateNetworking
    containerAppsSubnetId: enablePrivateNetworking ? network.outputs.containerAppsSubnetId : ''
    logsName: logs.name
    registryName: registry.name
    funcIdentityName: funcIdentity.name
    workerIdentityName: workerIdentity.name
    migrateIdentityName: migrateIdentity.name
    hostStorageName: storage.outputs.hostStorageName
    dataStorageName: storage.outputs.dataStorageName
    etlStorageName: storage.outputs.etlStorageName
    etlShareName: storage.outputs.etlShareName
  }
  dependsOn: [acrPullRoles, pgAdmin, database]
}

// ---------------------------------------------------------------- Postgres firewall (public mode)
// Only the apps' outbound addresses (and the operators' given ones): no 0.0.0.0 "allow all Azure
// services" rule. Created last, after the other Postgres children (one operation at a time on the server).
module postgresFirewall 'modules/postgresFirewall.bicep' = if (!enablePrivateNetworking) {
  name: 'postgres-firewall'
  params: {
    serverName: postgres.name
    addresses: union(
      split(functionApp.properties.possibleOutboundIpAddresses, ','),
      containerApps.outputs.workerOutboundIpAddresses,
      postgresClientIps
    )
  }
  dependsOn: [database, pgBouncer]
}

// ---------------------------------------------------------------- private endpoints (private mode)
module privateEndpoints 'modules/privateEndpoints.bicep' = if (enablePrivateNetworking) {
  name: 'private-endpoints'
  params: {
    location: location
    tags: tags
    subnetId: network.outputs.privateEndpointsSubnetId
    postgresId: postgres.id
    hostStorageId: storage.outputs.hostStorageId
    dataStorageId: storage.outputs.dataStorageId
    etlStorageId: storage.outputs.etlStorageId
    zoneIds: network.outputs.privateDnsZoneIds
  }
  dependsOn: [database, pgBouncer]
}

// ---------------------------------------------------------------- outputs (names and endpoints only)
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.properties.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.name
output FUNCTION_APP_NAME string = functionApp.name
output FUNCTION_APP_URL string = 'https://${functionApp.properties.defaultHostName}'
output WORKER_APP_NAME string = containerApps.outputs.workerName
output MIGRATION_JOB_NAME string = containerApps.outputs.migrationJobName
output POSTGRES_HOST string = postgres.properties.fullyQualifiedDomainName
output POSTGRES_DATABASE string = dbName
output DB_SCHEMA string = dbSchema
output DB_APP_ROLE string = appRole
output HOST_STORAGE_ACCOUNT string = storage.outputs.hostStorageName
output DATA_STORAGE_ACCOUNT string = storage.outputs.dataStorageName
output POSTGRES_CONNECTION_DEMAND int = connectionDemand
output POSTGRES_CONNECTION_BUDGET int = connectionBudget
