// /api/bootstrap/* (SPEC §5): the schema lifecycle, as HTTP triggers around db/bootstrap.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import {
  bootstrapDdl,
  bootstrapDeploy,
  bootstrapMigrate,
  bootstrapRebuild,
  bootstrapStatus,
  bootstrapTables,
  type HttpResult,
} from '../db';
import { json } from './http';
import { services } from './services';

const deps = () => ({ db: services().pool, ...services().migrationTarget });
const respond = (r: HttpResult): HttpResponseInit => json(r.status, r.body);
const confirmOf = (req: HttpRequest) => ({
  ...(req.query.get('confirm') !== null ? { confirm: req.query.get('confirm')! } : {}),
  ...(req.query.get('dry_run') !== null ? { dryRun: req.query.get('dry_run')! } : {}),
});

export const getBootstrapStatus = async () => respond(await bootstrapStatus(deps()));
export const getBootstrapTables = async () => respond(await bootstrapTables(deps()));
export const getBootstrapDdl = async () => respond(await bootstrapDdl(deps()));
export const postBootstrapDeploy = async (req: HttpRequest) =>
  respond(await bootstrapDeploy(deps(), confirmOf(req)));
export const postBootstrapMigrate = async (req: HttpRequest) =>
  respond(await bootstrapMigrate(deps(), confirmOf(req)));
export const postBootstrapRebuild = async (req: HttpRequest) =>
  respond(await bootstrapRebuild(deps(), { ...confirmOf(req), env: process.env }));
