// Who is calling (docs/domain.md "Who did it"): Azure App Service authentication puts the caller in
// the x-ms-client-principal header (base64 JSON {auth_typ, claims: [{typ, val}], name_typ, role_typ});
// external requests cannot set it when authentication is on. The actor recorded for a change is that
// caller, else the body's actor. With DAG_AUTH_ENABLED a caller is required and review and clearance
// need one of the configured roles.
import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { AppError } from './appError';
import type { Config } from './config';

export interface Caller {
  name: string;
  roles: string[];
  identityProvider: string | null;
}

const Principal = z.object({
  auth_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })).default([]),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
});

const NAME_CLAIMS = [
  'name',
  'preferred_username',
  'upn',
  'email',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
];
const ROLE_CLAIMS = ['roles', 'role', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];

/** The authenticated caller, or null when the request carries no principal. A malformed header is a 401. */
export function callerOf(req: HttpRequest): Caller | null {
  const raw = req.headers.get('x-ms-client-principal');
  if (!raw) return null;
  let parsed: z.infer<typeof Principal>;
  try {
    parsed = Principal.parse(JSON.parse(Buffer.from(raw, 'base64').toString('utf8')));
  } catch {
    throw new AppError(
      'UNAUTHORIZED',
      'The x-ms-client-principal header is not base64 JSON of {auth_typ, claims, name_typ, role_typ}.',
      { field: 'x-ms-client-principal' },
    );
  }
  const claim = (types: string[]) => parsed.claims.filter((c) => types.includes(c.typ)).map((c) => c.val);
  const name =
    claim(parsed.name_typ ? [parsed.name_typ] : [])[0] ??
    claim(NAME_CLAIMS)[0] ??
    req.headers.get('x-ms-client-principal-name') ??
    req.headers.get('x-ms-client-principal-id');
  if (!name) {
    throw new AppError('UNAUTHORIZED', 'The authenticated principal has no name claim.', {
      field: 'x-ms-client-principal',
    });
  }
  const roles = claim([...(parsed.role_typ ? [parsed.role_typ] : []), ...ROLE_CLAIMS]);
  return { name, roles: [...new Set(roles)], identityProvider: parsed.auth_typ ?? null };
}

export interface ActorRule {
  /** The body field that names the actor when there is no authenticated caller (e.g. "reviewer"). */
  bodyField: string;
  /** The body's value of that field. */
  bodyActor: string | undefined;
  /** The actor is required (review) rather than optional (submit). */
  required: boolean;
  /** With DAG_AUTH_ENABLED: the caller needs one of these roles (undefined: any caller). */
  roles?: readonly string[];
  /** What is being done, for the 403 message ("approve a version"). */
  action: string;
  /** Admin-key routes (platform registry, seed): no principal needed even with DAG_AUTH_ENABLED. */
  adminKeyRoute?: boolean;
}

/** The actor of a change: the authenticated caller, else the body's value; enforces DAG_AUTH_ENABLED rules. */
export function actorOf(req: HttpRequest, config: Config, rule: ActorRule): string | null {
  const caller = callerOf(req);
  if (config.DAG_AUTH_ENABLED && !rule.adminKeyRoute) {
    if (!caller) {
      throw new AppError(
        'UNAUTHORIZED',
        `Authentication is required to ${rule.action}: call through App Service authentication (no x-ms-client-principal header was received).`,
        { field: 'x-ms-client-principal' },
      );
    }
    if (rule.roles && !rule.roles.some((r) => caller.roles.includes(r))) {
      throw new AppError(
        'FORBIDDEN',
        `${caller.name} may not ${rule.action}: it needs one of the roles ${rule.roles.join(', ')} (has ${caller.roles.join(', ') || 'none'}).`,
        { field: 'roles', required: rule.roles, roles: caller.roles },
      );
    }
  }
  const actor = caller?.name ?? rule.bodyActor ?? null;
  if (rule.required && !actor) {
    throw new AppError(
      'VALIDATION',
      `${rule.bodyField} is required to ${rule.action} (or call with App Service authentication).`,
      [{ path: rule.bodyField, message: 'required' }],
    );
  }
  return actor;
}

/** The actor of a platform registry change: admin-key routes, no principal required. */
export function adminActor(req: HttpRequest, config: Config, bodyActor: string | undefined, action: string) {
  return actorOf(req, config, {
    bodyField: 'actor',
    bodyActor,
    required: false,
    action,
    adminKeyRoute: true,
  });
}

/** The actor of a data steward's change (clearance, delete, restore): required, with a clearance role. */
export function stewardActor(
  req: HttpRequest,
  config: Config,
  bodyActor: string | undefined,
  action: string,
) {
  return actorOf(req, config, {
    bodyField: 'actor',
    bodyActor,
    required: true,
    roles: config.DAG_CLEARANCE_ROLES,
    action,
  });
}
