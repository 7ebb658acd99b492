// Portal assets for the product's Application Insights (docs/monitoring.md): a workbook (jobs, failure
// rate, slowest handlers, queue backlog, failures) and log alert rules on the metrics and exceptions
// both apps send: poison messages, failure rate, backlog age, reconciler repairs, unverified results.
param prefix string
param location string
param tags object
@description('The Application Insights component both apps send to.')
param insightsId string
@description('Alert when more than this percentage of jobs failed over the last hour.')
param failureRatePercent int = 10
@description('Alert when the oldest waiting task message is older than this (minutes).')
param backlogAgeMinutes int = 30
@description('Action group notified by the alerts (empty: the alerts fire in the portal only).')
param actionGroupId string = ''

var actions = empty(actionGroupId) ? { actionGroups: [] } : { actionGroups: [actionGroupId] }

var alerts = [
  {
    name: 'poison-messages'
    displayName: 'rmhdagmaster: messages in a poison queue'
    description: 'A task or result message was given up (moved to <queue>-poison): its node failed. Inspect the poison queue and the PoisonMessage exceptions.'
    severity: 1
    query: 'customMetrics | where name == "dag.queue.depth" and tostring(customDimensions.poison) == "true" | summarize value = max(valueMax) by queue = tostring(customDimensions.queue)'
    aggregation: 'Maximum'
    column: 'value'
    threshold: 0
  }
  {
    name: 'job-failure-rate'
    displayName: 'rmhdagmaster: job failure rate'
    description: 'More than ${failureRatePercent}% of the jobs that ended in the last hour failed (by workflow).'
    severity: 2
    query: 'customMetrics | where name in ("dag.jobs.completed", "dag.jobs.failed") | extend workflow = tostring(customDimensions.workflow_id) | summarize failed = sumif(valueSum, name == "dag.jobs.failed"), ended = sum(valueSum) by workflow | where ended > 0 | extend rate = 100.0 * failed / ended'
    aggregation: 'Maximum'
    column: 'rate'
    threshold: failureRatePercent
  }
  {
    name: 'queue-backlog-age'
    displayName: 'rmhdagmaster: task queue backlog age'
    description: 'The oldest task message has waited more than ${backlogAgeMinutes} minutes: the workers do not keep up (or none runs).'
    severity: 2
    query: 'customMetrics | where name == "dag.queue.oldest_age" | summarize value = max(valueMax) / 60.0 by queue = tostring(customDimensions.queue)'
    aggregation: 'Maximum'
    column: 'value'
    threshold: backlogAgeMinutes
  }
  {
    name: 'reconciler-repairs'
    displayName: 'rmhdagmaster: reconciler repairs'
    description: 'The reconciler repaired jobs (orchestration gone or failed outside the product) or sent lost task messages again.'
    severity: 3
    query: 'customMetrics | where name == "dag.reconciler.repairs" | summarize value = sum(valueSum) by kind = tostring(customDimensions.kind)'
    aggregation: 'Total'
    column: 'value'
    threshold: 0
  }
  {
    name: 'unverified-results'
    displayName: 'rmhdagmaster: result signatures not verified'
    description: 'Signed container results arrived whose signature the result trigger could not check (read from Postgres instead, so no wrong outcome was raised): someone with access to the result queue sending results, or result keys rotated or rebuilt under running workers (they sign with the new key within 5 minutes).'
    severity: 2
    query: 'customMetrics | where name == "dag.results.unverified" | summarize value = sum(valueSum) by reason = tostring(customDimensions.reason)'
    aggregation: 'Total'
    column: 'value'
    threshold: 0
  }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for a in alerts: {
    name: '${prefix}-${a.name}'
    location: location
    tags: tags
    properties: {
      displayName: a.displayName
      description: a.description
      severity: a.severity
      enabled: true
      scopes: [insightsId]
      evaluationFrequency: 'PT5M'
      windowSize: a.name == 'job-failure-rate' ? 'PT1H' : 'PT15M'
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: a.query
            timeAggregation: a.aggregation
            metricMeasureColumn: a.column
            operator: 'GreaterThan'
            threshold: a.threshold
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: actions
    }
  }
]

var queries = [
  {
    title: 'Jobs by workflow and outcome'
    query: 'customMetrics | where name startswith "dag.jobs." | summarize jobs = sum(valueSum) by bin(timestamp, 1h), outcome = replace_string(name, "dag.jobs.", ""), workflow = tostring(customDimensions.workflow_id) | render timechart'
  }
  {
    title: 'Failure rate by workflow'
    query: 'customMetrics | where name in ("dag.jobs.completed", "dag.jobs.failed") | summarize failed = sumif(valueSum, name == "dag.jobs.failed"), ended = sum(valueSum) by workflow = tostring(customDimensions.workflow_id) | extend failure_rate = round(100.0 * failed / ended, 1) | order by failure_rate desc'
  }
  {
    title: 'Slowest handlers (attempt duration)'
    query: 'customMetrics | where name == "dag.attempt.duration" | summarize attempts = sum(valueCount), avg_ms = sum(valueSum) / sum(valueCount), max_ms = max(valueMax) by handler = tostring(customDimensions.handler), runner = tostring(customDimensions.runner) | order by avg_ms desc'
  }
  {
    title: 'Queue backlog: depth, poison depth, oldest message age (s)'
    query: 'customMetrics | where name in ("dag.queue.depth", "dag.queue.oldest_age") | summarize value = max(valueMax) by bin(timestamp, 5m), series = strcat(name, " ", tostring(customDimensions.queue), iff(tostring(customDimensions.poison) == "true", " (poison)", "")) | render timechart'
  }
  {
    title: 'Container task wait (enqueued to started, ms)'
    query: 'customMetrics | where name == "dag.container.wait" | summarize avg_ms = sum(valueSum) / sum(valueCount) by bin(timestamp, 5m), queue = tostring(customDimensions.queue) | render timechart'
  }
  {
    title: 'Recent failures (exceptions with their job and node)'
    query: 'exceptions | where type in ("TaskAttemptFailed", "TaskTimeout", "NodeFailed", "JobFailed", "PoisonMessage") | project timestamp, type, job_id = tostring(customDimensions.job_id), workflow = tostring(customDimensions.workflow_id), node = tostring(customDimensions.node_id), attempt = tostring(customDimensions.attempt), message = outerMessage, operation_Id | order by timestamp desc | take 200'
  }
]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name is a GUID.
  name: guid(insightsId, 'rmhdagmaster-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'rmhdagmaster jobs'
    category: 'workbook'
    sourceId: insightsId
    version: '1.0'
    serializedData: string({
      version: 'Notebook/1.0'
      items: [
        for (q, i) in queries: {
          type: 3
          name: 'query-${i}'
          content: {
            version: 'KqlItem/1.0'
            title: q.title
            query: q.query
            queryType: 0
            resourceType: 'microsoft.insights/components'
            timeContext: { durationMs: 86400000 }
            size: 0
          }
        }
      ]
      isLocked: false
    })
  }
}

output alertRuleIds array = [for (a, i) in alerts: rules[i].id]
output workbookId string = workbook.id
