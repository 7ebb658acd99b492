// Private endpoints (enablePrivateNetworking) for Postgres and the storage accounts, each registered in
// its private DNS zone, so the apps reach them over the VNet.

param location string
param tags object
param subnetId string
param postgresId string
param hostStorageId string
param dataStorageId string
param etlStorageId string
@description('Zone ids by kind: postgres, blob, queue, table, file (modules/network.bicep).')
param zoneIds object

var endpoints = [
  { name: 'pg', target: postgresId, group: 'postgresqlServer', zone: zoneIds.postgres }
  { name: 'host-blob', target: hostStorageId, group: 'blob', zone: zoneIds.blob }
  { name: 'host-queue', target: hostStorageId, group: 'queue', zone: zoneIds.queue }
  { name: 'host-table', target: hostStorageId, group: 'table', zone: zoneIds.table }
  { name: 'data-blob', target: dataStorageId, group: 'blob', zone: zoneIds.blob }
  { name: 'etl-file', target: etlStorageId, group: 'file', zone: zoneIds.file }
]

resource pe 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for e in endpoints: {
    name: '${last(split(e.target, '/'))}-${e.name}-pe'
    location: location
    tags: tags
    properties: {
      subnet: { id: subnetId }
      privateLinkServiceConnections: [
        {
          name: e.name
          properties: { privateLinkServiceId: e.target, groupIds: [e.group] }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (e, i) in endpoints: {
    parent: pe[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [{ name: e.group, properties: { privateDnsZoneId: e.zone } }]
    }
  }
]
