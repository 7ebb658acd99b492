// The Container Apps side (docs/deployment.md): the environment (logs to Log Analytics, optionally in the
// VNet), the worker's SMB staging share mounted from its own account, the worker (GDAL image, scaled on its
// task queues by KEDA with its identity) and the migration job. The identities, registry, workspace and
// storage accounts are created elsewhere (main.bicep, modules/storage.bicep) and referenced here by name:
// the account and workspace keys are read here and go nowhere else.

@description('Name prefix and unique token of the environment (main.bicep).')
param prefix string
param token string
param location string
param tags object

@description('Worker image (also runs the migration job).')
param workerImage string

@description('Most worker replicas (KEDA scales 0..N on the task queues).')
param workerMaxReplicas int

@description('Tasks one worker replica runs at once (DAG_WORKER_MAX_CONCURRENT).')
param workerMaxConcurrent int

@description('Postgres pool size of one worker replica (DAG_DB_POOL_MAX).')
param workerDbPoolMax int

@description('Base URLs of the TiTiler service and the STAC API the STAC items link to.')
param titilerUrl string
param stacApiUrl string

@description('The Postgres role the migration job makes the apps\' logins members of.')
param appRole string

@description('The task queues the worker reads (and KEDA scales on) and the result queue it sends to.')
param taskQueues array
param resultQueue string

@description('The database settings both apps and the migration job share (name/value pairs).')
param dbSettings array

@description('Private networking: the environment is internal, in the Container Apps subnet.')
param enablePrivateNetworking bool

@description('The Container Apps subnet (modules/network.bicep); empty in public mode.')
param containerAppsSubnetId string

@description('The Log Analytics workspace the environment sends logs to.')
param logsName string

@description('The container registry the worker image is pulled from (AcrPull, main.bicep).')
param registryName string

@description('The user-assigned identities of the Function App, the worker and the migration job.')
param funcIdentityName string
param workerIdentityName string
param migrateIdentityName string

@description('The storage accounts (modules/storage.bicep): host (queues), data (rasters), ETL (the share).')
param hostStorageName string
param dataStorageName string
param etlStorageName string
param etlShareName string

resource funcIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: funcIdentityName
}

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: workerIdentityName
}

resource migrateIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: migrateIdentityName
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logsName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageName
}

resource etlStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: etlStorageName
}

// ---------------------------------------------------------------- Container Apps environment
resource containerEnv 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: '${prefix}-cae-${take(token, 6)}'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [{ name: 'Consumption', workloadProfileType: 'Consumption' }]
    vnetConfiguration: enablePrivateNetworking
      ? { infrastructureSubnetId: containerAppsSubnetId, internal: true }
      : null
  }
}

resource etlMount 'Microsoft.App/managedEnvironments/storages@2025-01-01' = {
  parent: containerEnv
  name: 'etl'
  properties: {
    azureFile: {
      accountName: etlStorage.name
      accountKey: etlStorage.listKeys().keys[0].value
      shareName: etlShareName
      accessMode: 'ReadWrite'
    }
  }
}

// ---------------------------------------------------------------- the worker
resource worker 'Microsoft.App/containerApps@2025-01-01' = {
  name: '${prefix}-worker'
  location: location
  tags: union(tags, { 'azd-service-name': 'worker' })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${workerIdentity.id}': {} } }
  properties: {
    environmentId: containerEnv.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [{ server: registry.properties.loginServer, identity: workerIdentity.id }]
    }
    template: {
      containers: [
        {
          name: 'worker'
          image: workerImage
          resources: { cpu: json('2.0'), memory: '4Gi' }
          env: concat(dbSettings, [
            { name: 'AZURE_CLIENT_ID', value: workerIdentity.properties.clientId }
            { name: 'DAG_DB_USER', value: workerIdentity.name }
            { name: 'DAG_DB_POOL_MAX', value: string(workerDbPoolMax) }
            { name: 'DAG_QUEUE_SERVICE_URL', value: hostStorage.properties.primaryEndpoints.queue }
            { name: 'DAG_RESULT_QUEUE', value: resultQueue }
            { name: 'DAG_WORKER_QUEUES', value: join(taskQueues, ',') }
            { name: 'DAG_WORKER_MAX_CONCURRENT', value: string(workerMaxConcurrent) }
            { name: 'DAG_WORKER_HEALTH_PORT', value: '8080' }
            { name: 'DAG_STORAGE_BLOB_URL', value: dataStorage.properties.primaryEndpoints.blob }
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
        maxReplicas: workerMaxReplicas
        // KEDA azure-queue with the worker's identity (accountName + identity: API 2025-01-01 and later).
        rules: [
          for q in taskQueues: {
            name: q
            azureQueue: {
              accountName: hostStorage.name
              queueName: q
              // One message per replica: a message carries up to workerMaxConcurrent fan-out children
              // (DAG_TASKS_PER_MESSAGE in main.bicep), a task node alone (over-provisions those by at
              // most workerMaxConcurrent×, rather than leave a fan-out under-served).
              queueLength: 1
              identity: workerIdentity.id
            }
          }
        ]
      }
    }
  }
}

// ---------------------------------------------------------------- the migration job
// Runs `dagmaster db migrate` from the worker image as the migration identity (the only Postgres
// administrator), after every deployment (azure.yaml postdeploy hook, infra/scripts/migrate.sh). It
// creates the apps' identities as Entra logins and makes them members of the app role.
resource migrationJob 'Microsoft.App/jobs@2025-01-01' = {
  name: '${prefix}-migrate'
  location: location
  tags: tags
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${migrateIdentity.id}': {} } }
  properties: {
    environmentId: containerEnv.id
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: 1800
      replicaRetryLimit: 0
      manualTriggerConfig: { parallelism: 1, replicaCompletionCount: 1 }
      registries: [{ server: registry.properties.loginServer, identity: migrateIdentity.id }]
    }
    template: {
      containers: [
        {
          name: 'migrate'
          image: workerImage
          command: ['node', 'bin/dagmaster.js']
          args: [
            'db'
            'migrate'
            '--app-role'
            appRole
            '--grant'
            '${funcIdentity.name}:${funcIdentity.properties.principalId}'
            '--grant'
            '${workerIdentity.name}:${workerIdentity.properties.principalId}'
          ]
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: concat(dbSettings, [
            { name: 'AZURE_CLIENT_ID', value: migrateIdentity.properties.clientId }
            { name: 'DAG_DB_USER', value: migrateIdentity.name }
            // Migrations go to the server, not through PgBouncer (one long transaction).
            { name: 'DAG_DB_PORT', value: '5432' }
          ])
        }
      ]
    }
  }
}

output workerName string = worker.name
output workerOutboundIpAddresses array = worker.properties.outboundIpAddresses
output migrationJobName string = migrationJob.name
