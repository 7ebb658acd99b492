// GET /api/openapi.json (the generated OpenAPI document) and GET /api/docs (its reference page).
import type { HttpResponseInit } from '@azure/functions';
import { json } from './http';
import { openApiDocument, referencePage } from './openapi';
import { version } from './version';

export async function getOpenApi(): Promise<HttpResponseInit> {
  return json(200, openApiDocument(version));
}

export async function getApiDocs(): Promise<HttpResponseInit> {
  return {
    status: 200,
    body: referencePage(openApiDocument(version)),
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    },
  };
}
