// The three storage accounts and the role assignments on them (a role assignment's scope must be a
// resource of its own file): the host account (Functions host, Durable state, every queue, declared), the
// data account (bronze in, silver COGs out) and the worker's SMB staging share, in an account of its own.
// The identities are main.bicep's, referenced here by name.

param location string
param tags object

@description('Account names (main.bicep derives them from the environment name).')
param hostStorageName string
param dataStorageName string
param etlStorageName string

@description('Private networking: public access to the data account disabled.')
param enablePrivateNetworking bool

@description('Every queue the product uses: task queues, the result queue, and the poison queue of each.')
param queueNames array

@description('The result queue: the worker only sends to it and has no role on its poison queue.')
param resultQueue string

@description('The job intake queue, the Function App\'s only (declared here with its poison queue).')
param jobQueue string

@description('The Function App\'s user-assigned identity.')
param funcIdentityName string

@description('The worker\'s user-assigned identity.')
param workerIdentityName string

// ---------------------------------------------------------------- built-in role definitions
var role = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  blobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  queueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource funcIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: funcIdentityName
}

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: workerIdentityName
}

// ---------------------------------------------------------------- storage: Functions host, Durable state, queues
resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: hostStorageName
  location: location
  tags: tags
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    supportsHttpsTrafficOnly: true
  }
}

resource hostBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: hostStorage
  name: 'default'
}

// The Flex Consumption deployment package (azd uploads it; the app reads it with its identity).
resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: hostBlobs
  name: 'deployments'
  properties: { publicAccess: 'None' }
}

resource hostQueues 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: hostStorage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for q in queueNames: {
    parent: hostQueues
    name: q
  }
]

resource jobQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for q in [jobQueue, '${jobQueue}-poison']: {
    parent: hostQueues
    name: q
  }
]

// ---------------------------------------------------------------- storage: rasters (bronze in, silver COGs out)
resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: dataStorageName
  location: location
  tags: tags
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: enablePrivateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource dataBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: dataStorage
  name: 'default'
}

resource bronze 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: dataBlobs
  name: 'bronze'
  properties: { publicAccess: 'None' }
}

resource silverCogs 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: dataBlobs
  name: 'silver-cogs'
  properties: { publicAccess: 'None' }
}

// ---------------------------------------------------------------- storage: the worker's shared staging share
// A raster node stages a blob under /mnt/etl and a later node of the same job, possibly on another replica,
// reads it. Container Apps mounts SMB shares with an account key only, so the share has its own account.
resource etlStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: etlStorageName
  location: location
  tags: tags
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true
    supportsHttpsTrafficOnly: true
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

// ---------------------------------------------------------------- storage role assignments
// Function App: the Functions host and the Durable extension create and use blobs, queues and tables of
// their task hub, and the app sends to the task queues, on its host account only.
resource funcHostRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for r in [role.blobDataOwner, role.queueDataContributor, role.tableDataContributor]: {
    scope: hostStorage
    name: guid(hostStorage.id, funcIdentity.id, r)
    properties: {
      principalId: funcIdentity.properties.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r)
    }
  }
]

// Worker: receives, extends and deletes messages of its task queues (and moves poison messages to their
// poison queues), one queue at a time; only sends to the result queue (whose poison queue is the Functions
// host's); reads bronze, writes silver COGs.
resource workerQueueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (q, i) in queueNames: if (q != '${resultQueue}-poison') {
    scope: queues[i]
    name: guid(queues[i].id, workerIdentity.id, q == resultQueue ? role.queueDataMessageSender : role.queueDataContributor)
    properties: {
      principalId: workerIdentity.properties.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId(
        'Microsoft.Authorization/roleDefinitions',
        q == resultQueue ? role.queueDataMessageSender : role.queueDataContributor
      )
    }
  }
]

resource workerBronzeRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: bronze
  name: guid(bronze.id, workerIdentity.id, role.blobDataReader)
  properties: {
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.blobDataReader)
  }
}

// Function App: the platform API's pre-flight checks that a submitted raster's blob exists in bronze.
resource funcBronzeRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: bronze
  name: guid(bronze.id, funcIdentity.id, role.blobDataReader)
  properties: {
    principalId: funcIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.blobDataReader)
  }
}

resource workerSilverRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: silverCogs
  name: guid(silverCogs.id, workerIdentity.id, role.blobDataContributor)
  properties: {
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.blobDataContributor)
  }
}

output hostStorageName string = hostStorage.name
output hostStorageId string = hostStorage.id
output hostBlobEndpoint string = hostStorage.properties.primaryEndpoints.blob
output hostQueueEndpoint string = hostStorage.properties.primaryEndpoints.queue
output deploymentsContainerName string = deployments.name
output dataStorageName string = dataStorage.name
output dataStorageId string = dataStorage.id
output dataBlobEndpoint string = dataStorage.properties.primaryEndpoints.blob
output etlStorageName string = etlStorage.name
output etlStorageId string = etlStorage.id
output etlShareName string = etlShare.name
