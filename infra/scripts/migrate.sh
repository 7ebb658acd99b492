#!/bin/sh
# azd postdeploy hook: runs the schema migrations as the Container Apps job MIGRATION_JOB_NAME (the
# migration identity, the only Postgres administrator), with the worker image azd just deployed (it
# ships db/migrations), waits for it and fails the deployment when it fails. Needs the Azure CLI
# (`az login`); azd passes the outputs of infra/main.bicep as environment variables.
set -eu
: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd deploy)}"
: "${MIGRATION_JOB_NAME:?missing output MIGRATION_JOB_NAME of infra/main.bicep}"
: "${WORKER_APP_NAME:?missing output WORKER_APP_NAME of infra/main.bicep}"

image="$(az containerapp show -g "$AZURE_RESOURCE_GROUP" -n "$WORKER_APP_NAME" \
  --query 'properties.template.containers[0].image' -o tsv)"
echo "migrations: job $MIGRATION_JOB_NAME with image $image"
az containerapp job update -g "$AZURE_RESOURCE_GROUP" -n "$MIGRATION_JOB_NAME" --image "$image" --output none
execution="$(az containerapp job start -g "$AZURE_RESOURCE_GROUP" -n "$MIGRATION_JOB_NAME" --query name -o tsv)"
echo "migrations: execution $execution started"
while :; do
  status="$(az containerapp job execution show -g "$AZURE_RESOURCE_GROUP" -n "$MIGRATION_JOB_NAME" \
    --job-execution-name "$execution" --query properties.status -o tsv)"
  case "$status" in
    Succeeded) echo "migrations: done"; exit 0 ;;
    Failed|Stopped|Degraded)
      echo "migrations: execution $execution $status; its log:" >&2
      az containerapp job logs show -g "$AZURE_RESOURCE_GROUP" -n "$MIGRATION_JOB_NAME" \
        --execution "$execution" --container migrate --format text >&2 || true
      exit 1 ;;
    *) sleep 10 ;;
  esac
done
