// The operator dashboard under /api/ui (docs/dashboard.md): server-rendered pages (nunjucks,
// autoescape) over the same repositories as the JSON API, a state document per job that the
// browser polls with If-None-Match, and the cancel/rerun actions (CSRF-checked forms). The pages live
// in uiJobPages.ts, uiCatalogPages.ts and uiLogin.ts; this file is the route table and the static assets.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import {
  healthPage,
  nodesPage,
  overview,
  workflowGraph,
  workflowPage,
  workflowsPage,
} from './uiCatalogPages';
import {
  cancelAction,
  childrenPage,
  jobEventsAfter,
  jobPage,
  jobsPage,
  jobStateRoute,
  rerunAction,
} from './uiJobPages';
import { loginAction, loginPage, logoutAction } from './uiLogin';
import { assets, securityHeaders, uiRoute } from './uiSupport';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export async function staticAsset(req: HttpRequest): Promise<HttpResponseInit> {
  const file = req.params.file ?? '';
  const a = assets();
  if (!Object.values(a.value).includes(file)) {
    return {
      status: 404,
      body: 'not found',
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    };
  }
  return {
    status: 200,
    body: readFileSync(path.join(a.dir, 'static', file)),
    headers: {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      // Content-hashed names: a file never changes under its name.
      'cache-control': 'public, max-age=31536000, immutable',
      ...securityHeaders(),
    },
  };
}

/** Answers 204 to a caller with a valid function key (the Functions host checks it): the login's check. */
export async function keyCheck(): Promise<HttpResponseInit> {
  return { status: 204 };
}

export const ui = {
  overview: uiRoute(overview),
  jobs: uiRoute(jobsPage),
  job: uiRoute(jobPage),
  jobState: uiRoute(jobStateRoute, { json: true }),
  jobEvents: uiRoute(jobEventsAfter, { json: true }),
  children: uiRoute(childrenPage),
  cancel: uiRoute(cancelAction),
  rerun: uiRoute(rerunAction),
  nodes: uiRoute(nodesPage),
  health: uiRoute(healthPage),
  workflows: uiRoute(workflowsPage),
  workflow: uiRoute(workflowPage),
  workflowGraph: uiRoute(workflowGraph, { json: true }),
  login: uiRoute(loginPage, { public: true }),
  loginPost: uiRoute(loginAction, { public: true }),
  logout: uiRoute(logoutAction, { public: true }),
};
