// Postgres firewall rules for a list of client addresses (the apps' outbound IPs, known only once the
// apps exist, hence a module: its parameters are evaluated before its resources are). Rules are created
// one at a time (@batchSize(1)): the server accepts one change at a time.

param serverName string

@description('IPv4 addresses; empty entries are skipped.')
param addresses array

var ips = filter(addresses, a => !empty(trim(a)))

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: serverName
}

@batchSize(1)
resource rules 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = [
  for ip in ips: {
    parent: server
    name: 'client-${replace(trim(ip), '.', '-')}'
    properties: { startIpAddress: trim(ip), endIpAddress: trim(ip) }
  }
]

output ruleCount int = length(ips)
