// rmhdagmaster on Azure: the Function App (HTTP API + Durable orchestrations + activities), the
// container worker (Container Apps, GDAL image, scaled on queue length), PostgreSQL Flexible Server
// with Microsoft Entra authentication, one storage account (Functions/Durable state, task queues,
// raster containers), Application Insights. Everything authenticates with one user-assigned managed
// identity; no secrets in app settings.
//
// Deploy: az deployment group create -g <rg> -f infra/main.bicep -p namePrefix=dag workerImage=<acr>/dagmaster-worker:<tag>
// (or `azd up` with azure.yaml). Not compiled in this repository's CI (no Bicep CLI here): run
// `az bicep build -f infra/main.bicep` before deploying.

@description('Prefix of every resource name (3-11 lowercase letters/digits).')
@minLength(3)
@maxLength(11)
param namePrefix string

param location string = resourceGroup().location

@description('Container image of the worker (see container-worker/Dockerfile).')
param workerImage string

@description('Postgres SKU (Burstable B1ms is enough to start).')
param postgresSku string = 'Standard_B1ms'

@description('Base URL of the TiTiler service the STAC items link to (preview and tile links).')
param titilerUrl string = 'https://titiler.example.com'

@description('Base URL of the STAC API the STAC items link to.')
param stacApiUrl string = 'https://stac-api.example.com'

@description('Durable task hub name.')
param taskHub string = 'DagMaster'

var suffix = uniqueString(resourceGroup().id)
var storageName = toLower('${namePrefix}st${take(suffix, 8)}')
var etlStorageName = toLower('${namePrefix}etl${take(suffix, 8)}')
var pgName = '${namePrefix}-pg-${take(suffix, 6)}'
var dbName = 'dagmaster'
var resultQueue = 'dag-task-results'
var containerQueues = 'container-tasks,dag-worker-tasks'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-id'
  location: location
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs'
  location: location
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-ai'
  location: location
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: logs.id }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource bronze 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'bronze'
}

resource silverCogs 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'silver-cogs'
}

// Blob, queue and table data roles: Durable (tables, queues, blobs), task queues, rasters.
var roles = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in roles: {
    scope: storage
    name: guid(storage.id, identity.id, role)
    properties: {
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: pgName
  location: location
  sku: { name: postgresSku, tier: startsWith(postgresSku, 'Standard_B') ? 'Burstable' : 'GeneralPurpose' }
  properties: {
    version: '16'
    storage: { storageSizeGB: 32 }
    authConfig: { activeDirectoryAuth: 'Enabled', passwordAuth: 'Disabled', tenantId: subscription().tenantId }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
  }
}

resource pgAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: postgres
  name: identity.properties.principalId
  properties: {
    principalName: identity.name
    principalType: 'ServicePrincipal'
    tenantId: subscription().tenantId
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: dbName
}

resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

var dbSettings = [
  { name: 'DAG_DB_HOST', value: postgres.properties.fullyQualifiedDomainName }
  { name: 'DAG_DB_NAME', value: dbName }
  { name: 'DAG_DB_USER', value: identity.name }
  { name: 'DAG_DB_AUTH', value: 'entra' }
  { name: 'DAG_DB_SSL', value: 'require' }
  { name: 'DAG_DB_SCHEMA', value: 'dagapp' }
  { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
  { name: 'DAG_QUEUE_SERVICE_URL', value: storage.properties.primaryEndpoints.queue }
  { name: 'DAG_RESULT_QUEUE', value: resultQueue }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
  { name: 'LOG_FORMAT', value: 'json' }
]

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${namePrefix}-plan'
  location: location
  sku: { name: 'EP1', tier: 'ElasticPremium' }
  kind: 'elastic'
  properties: { reserved: true, maximumElasticWorkerCount: 10 }
}

resource functionApp 'Microsoft.Web/sites@2023-12-01' = {
  name: '${namePrefix}-func-${take(suffix, 6)}'
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'Node|20'
      minTlsVersion: '1.2'
      appSettings: concat(
        [
          { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
          { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'node' }
          // Identity-based connection for the host, Durable and the queue trigger.
          { name: 'AzureWebJobsStorage__accountName', value: storage.name }
          { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
          { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
          { name: 'DAG_TASK_HUB', value: taskHub }
          { name: 'DAG_RECONCILE_SCHEDULE', value: '0 */1 * * * *' }
          { name: 'DAG_ENABLE_AUTO_BOOTSTRAP', value: 'true' }
          { name: 'DAG_WORKFLOWS_DIR', value: './workflows' }
          // Platform API pre-flight: a raster submission's blob must exist (docs/domain.md).
          { name: 'DAG_STORAGE_BLOB_URL', value: storage.properties.primaryEndpoints.blob }
        ],
        dbSettings
      )
    }
  }
  dependsOn: [storageRoles, pgAdmin, database]
}

// The worker's shared staging area (/mnt/etl): a raster node stages a blob there and a later node
// of the same job, possibly on another replica, reads it. Container Apps mounts an SMB share with an
// account key only, so the share lives in its own account; the main account stays key-less.
resource etlStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: etlStorageName
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true
  }
}

resource etlFiles 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = {
  parent: etlStorage
  name: 'default'
}

resource etlShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = {
  parent: etlFiles
  name: 'etl'
  properties: { shareQuota: 1024 }
}

resource containerEnv 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-cae'
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
  }
}

resource etlMount 'Microsoft.App/managedEnvironments/storages@2024-03-01' = {
  parent: containerEnv
  name: 'etl'
  properties: {
    azureFile: {
      accountName: etlStorage.name
      accountKey: etlStorage.listKeys().keys[0].value
      shareName: etlShare.name
      accessMode: 'ReadWrite'
    }
  }
}

resource worker 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-worker'
  location: location
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    managedEnvironmentId: containerEnv.id
    template: {
      containers: [
        {
          name: 'worker'
          image: workerImage
          resources: { cpu: json('2.0'), memory: '4Gi' }
          env: concat(dbSettings, [
            { name: 'DAG_WORKER_QUEUES', value: containerQueues }
            { name: 'DAG_WORKER_MAX_CONCURRENT', value: '2' }
            { name: 'DAG_WORKER_HEALTH_PORT', value: '8080' }
            { name: 'DAG_STORAGE_BLOB_URL', value: storage.properties.primaryEndpoints.blob }
            { name: 'DAG_WORKER_ETL_MOUNT_PATH', value: '/mnt/etl' }
            { name: 'DAG_TITILER_URL', value: titilerUrl }
            { name: 'DAG_STAC_API_URL', value: stacApiUrl }
          ])
          volumeMounts: [{ volumeName: 'etl', mountPath: '/mnt/etl' }]
          probes: [
            { type: 'Liveness', httpGet: { path: '/livez', port: 8080 }, periodSeconds: 30 }
            { type: 'Readiness', httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 15 }
          ]
        }
      ]
      volumes: [{ name: 'etl', storageType: 'AzureFile', storageName: etlMount.name }]
      scale: {
        minReplicas: 0
        maxReplicas: 10
        rules: [
          {
            name: 'container-tasks'
            azureQueue: {
              accountName: storage.name
              queueName: 'container-tasks'
              queueLength: 2
              identity: identity.id
            }
          }
          {
            name: 'dag-worker-tasks'
            azureQueue: {
              accountName: storage.name
              queueName: 'dag-worker-tasks'
              queueLength: 2
              identity: identity.id
            }
          }
        ]
      }
    }
  }
  dependsOn: [storageRoles, pgAdmin]
}

output functionAppName string = functionApp.name
output functionAppUrl string = 'https://${functionApp.properties.defaultHostName}'
output postgresHost string = postgres.properties.fullyQualifiedDomainName
output storageAccount string = storage.name
