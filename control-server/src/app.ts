import { createHash } from 'node:crypto';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ProtocolError, issueDeviceToken, exportPublicKey, type Signer } from '@appliance/protocol';
import type { AdminToken } from './admin-auth.js';
import { hostNameOf, type HostAllowList } from '@appliance/runtime';
import { originOf } from './audit.js';
import { BREAKER_API_STATUS, BreakerApiError } from './breaker-overrides.js';
import { breakerRoutes } from './breaker-routes.js';
import { eligibilityRoutes } from './eligibility-routes.js';
import type { BreakerService } from './breaker-service.js';
import { commandRoutes } from './command-routes.js';
import { COMMAND_API_STATUS, CommandApiError, type CommandService } from './command-service.js';
import type { ControlPublisher } from './control-publisher.js';
import { API_CSP, DASHBOARD_CSP, DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard.js';
import type { EligibilityService } from './eligibility.js';
import { ELIGIBILITY_STATUS, EligibilityError } from './eligibility-error.js';
import { EnrolmentError } from './enrolment-error.js';
import { enrolmentAdminRoutes, enrolmentPublicRoutes } from './enrolment-routes.js';
import type { EnrolmentService } from './enrolment-service.js';
import type { FleetView } from './fleet.js';
import { policyRoutes } from './policy-routes.js';
import { POLICY_API_STATUS, PolicyApiError, type PolicyService } from './policy-service.js';
import { RegistryError, type Device, type DeviceRegistry } from './registry.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Answered without the admin token. Default false: every route needs it unless it says so. */
    public?: boolean;
    /**
     * Authenticated by an Ed25519 signature over its body, verified by the handler before it
     * reads anything, instead of the admin token. Only the routes in SIGNED_ROUTES may say so.
     */
    signed?: boolean;
  }
}

export interface AppDeps {
  registry: DeviceRegistry;
  fleet: FleetView;
  control: ControlPublisher;
  /** Eligibility from the simulator, approvals, pins and blocks. */
  eligibility: EligibilityService;
  /** The adaptive circuit breaker and the operators' overrides. */
  breaker: BreakerService;
  /** Spending policy versions per profile. */
  policies: PolicyService;
  /** Fleet commands (halt, resume, flat) and their acknowledgements. */
  commands: CommandService;
  /** Signs device tokens; its public key is what gateways pin. */
  tokenSigner: Signer;
  adminToken: AdminToken;
  /** The `Host` names this server answers (DNS rebinding). */
  allowedHosts: HostAllowList;
  logger: Logger;
  now: () => number;
  deviceTokenTtlMs: number;
  /** Creates a paper-exchange account for a device, when a paper exchange runs here. */
  createPaperAccount?: (deviceId: string) => { apiKey: string; secret: string };
  /**
   * Enrolment, renewal, rotation, device keys and tunnel addresses (docs/enrolment.md). Absent:
   * the enrolment routes exist and answer that enrolment is disabled.
   */
  enrolment?: EnrolmentService;
}

const STATUS: Record<RegistryError['code'], number> = {
  E_DEVICE_EXISTS: 409,
  E_DEVICE_UNKNOWN: 404,
  E_INVALID: 400,
  E_REGISTRY_CORRUPT: 500,
};

const UNAUTHORIZED = { error: 'E_UNAUTHORIZED', message: 'admin token required (Authorization: Bearer ...)' };

const epochMs = z.number().int().nonnegative();
const BulkRevoke = z
  .strictObject({
    ids: z.array(z.string().max(64)).max(10_000).optional(),
    /** Devices registered at or after this time (ms since the epoch). */
    createdAfter: epochMs.optional(),
    /** Devices any of whose tokens was issued at or after this time. */
    tokenIssuedAfter: epochMs.optional(),
    /** Only say which devices would be revoked. */
    dryRun: z.boolean().default(false),
  })
  .refine((b) => b.ids !== undefined || b.createdAfter !== undefined || b.tokenIssuedAfter !== undefined, {
    message: 'give ids, createdAfter or tokenIssuedAfter',
  });

/**
 * Chosen, not inherited: each path has exactly one spelling. `/API/fleet`, `/api/fleet/`,
 * `//api/fleet` and `/api;x/fleet` are other paths, which match no route (404). (A variable,
 * not a literal: find-my-way's types lack `useSemicolonDelimiter`, which Fastify passes on.)
 */
const ROUTER_OPTIONS = {
  caseSensitive: true,
  ignoreTrailingSlash: false,
  ignoreDuplicateSlashes: false,
  useSemicolonDelimiter: false,
};

/** An /api path in any spelling the router might be configured to fold (case, slashes). */
const API_PATH = /^\/+api(\/|$)/i;

/**
 * Routes whose caller proves itself by signing the body (a simulator node has a key, not the
 * admin token). A short list on purpose: adding one is a decision, and a test names them.
 */
const SIGNED_ROUTES = new Set([
  'POST /api/simulator/results',
  // Device requests signed with the device key (docs/enrolment.md): enrolment, renewal, rotation.
  'POST /enrol',
  'POST /renew',
  'POST /rotate',
]);

export interface RouteEntry {
  method: string;
  url: string;
  public: boolean;
  /** Authenticated by a signature over the body instead of the admin token. */
  signed: boolean;
}
const ROUTES = new WeakMap<object, RouteEntry[]>();

/** Every route the app serves (after `ready()`), for tests that check each one's access rule. */
export function routeTable(app: object): RouteEntry[] {
  return [...(ROUTES.get(app) ?? [])];
}

/**
 * The control server's HTTP API and dashboard. Access is decided on the route the router
 * matched, never on the URL as sent: every route needs the admin token unless its config
 * says `public: true`, and no /api route may say so. Requests for a host not on the allow-list
 * are refused before anything else.
 */
export function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    routerOptions: ROUTER_OPTIONS,
    exposeHeadRoutes: true,
  });

  const routes: RouteEntry[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    const isPublic = route.config?.public === true;
    if (isPublic && API_PATH.test(route.url ?? route.path ?? ''))
      throw new Error(`${String(route.method)} ${route.url}: an /api route cannot be public`);
    const isSigned = route.config?.signed === true;
    for (const method of [route.method].flat()) {
      if (isSigned && !SIGNED_ROUTES.has(`${method} ${route.url}`))
        throw new Error(`${method} ${route.url}: not a route that may be authenticated by a signature`);
      routes.push({ method, url: route.url ?? '', public: isPublic, signed: isSigned });
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof RegistryError)
      return reply.code(STATUS[err.code]).send({ error: err.code, message: err.message });
    if (err instanceof EnrolmentError)
      return reply.code(err.status).send({ error: err.code, message: err.message });
    if (err instanceof EligibilityError || err instanceof ProtocolError)
      return reply.code(ELIGIBILITY_STATUS[err.code]).send({ error: err.code, message: err.message });
    if (err instanceof BreakerApiError)
      return reply.code(BREAKER_API_STATUS[err.code]).send({ error: err.code, message: err.message });
    if (err instanceof PolicyApiError)
      return reply.code(POLICY_API_STATUS[err.code]).send({ error: err.code, message: err.message });
    if (err instanceof CommandApiError)
      return reply.code(COMMAND_API_STATUS[err.code]).send({ error: err.code, message: err.message });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply.code(413).send({ error: 'E_TOO_LARGE', message: err.message });
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.logger.error({ err }, 'request failed');
    return reply
      .code(status)
      .send({ error: err.code ?? 'E_INTERNAL', message: status === 500 ? 'internal error' : err.message });
  });

  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: 'E_NOT_FOUND', message: 'no such route' }),
  );

  // 1. The Host header: a page on another domain rebound to this address is refused.
  app.addHook('onRequest', async (req, reply) => {
    if (deps.allowedHosts.allows(req.headers.host)) return;
    const name = (hostNameOf(req.headers.host) ?? req.headers.host ?? '(none)').slice(0, 100);
    deps.logger.debug({ host: name, remote: req.ip }, 'request for a host not allowed');
    return reply.code(421).send({
      error: 'E_HOST_NOT_ALLOWED',
      message: `this server does not answer for host ${JSON.stringify(name)}; allow it with --allowed-hosts`,
    });
  });

  // 2. The admin token, on the matched route: deny unless the route is public. A request that
  // matches no route gets the 404 handler, which returns nothing but "not found".
  // A signed route (SIGNED_ROUTES only) is left to its handler, which verifies the body's
  // signature before anything else and refuses it unsigned (401 E_UNSIGNED).
  const requireAdmin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.routeOptions.config.signed === true) return;
    if (!deps.adminToken.matches(req.headers.authorization)) return reply.code(401).send(UNAUTHORIZED);
  };
  app.addHook('onRequest', async (req, reply) => {
    if (req.is404 || req.routeOptions.config.public === true) return;
    return requireAdmin(req, reply);
  });

  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', API_CSP);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  const asset = (type: string, body: string, csp: string) => (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type(type).header('content-security-policy', csp).header('cache-control', 'no-cache').send(body);
  app.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok' }));
  app.get(
    '/',
    { config: { public: true } },
    asset('text/html; charset=utf-8', DASHBOARD_HTML, DASHBOARD_CSP),
  );
  app.get(
    '/dashboard.js',
    { config: { public: true } },
    asset('text/javascript; charset=utf-8', DASHBOARD_JS, API_CSP),
  );
  app.get(
    '/dashboard.css',
    { config: { public: true } },
    asset('text/css; charset=utf-8', DASHBOARD_CSS, API_CSP),
  );

  const enrolmentDeps = {
    enrolment: deps.enrolment,
    registry: deps.registry,
    logger: deps.logger,
    now: deps.now,
  };
  app.register(enrolmentPublicRoutes(enrolmentDeps));

  /**
   * Each device with its enrolment state: when enrolment is configured here, or the device has
   * enrolled (a server without enrolment lists its devices as it always did).
   */
  const withEnrolment = () => {
    const summaries = deps.enrolment?.summaries();
    const shown = deps.enrolment?.enabled === true;
    return deps.registry.list().map((d) => {
      const e = summaries?.get(d.id);
      return e && (shown || e.enrolled) ? { ...d, enrolment: e } : d;
    });
  };

  /** After a revocation is committed: peers, deny hook, then the signed revocation list. */
  const afterRevoke = async (ids: string[]) => {
    await deps.enrolment?.afterRevoke(ids);
    await deps.control.publishRevocations(deps.registry.revokedIds());
  };

  app.register(
    async (api) => {
      // Already checked above for every non-public route; said again here so that the /api
      // scope does not depend on that hook staying where it is.
      api.addHook('onRequest', requireAdmin);

      api.get('/fleet', async () => ({
        breaker: deps.breaker.body(),
        eligibility: deps.control.eligibility,
        devices: deps.fleet.entries(withEnrolment(), deps.now(), deps.policies.latestVersions()),
        telemetry: deps.fleet.stats(),
      }));

      api.get('/devices', async () => ({ devices: withEnrolment() }));

      api.post<{ Body: { id?: unknown; scope?: unknown; label?: unknown } }>(
        '/devices',
        async (req, reply) => {
          const body = req.body ?? {};
          if (typeof body.id !== 'string')
            return reply.code(400).send({ error: 'E_INVALID', message: 'id: a string is required' });
          const from = originOf(req);
          const device = await deps.registry.create(
            {
              id: body.id,
              scope: typeof body.scope === 'string' ? body.scope : undefined,
              label: typeof body.label === 'string' ? body.label : undefined,
            },
            deps.now(),
            from,
          );
          deps.logger.info({ device: device.id, scope: device.scope, from }, 'device created');
          const issued = await issue(device, req);
          return reply.code(201).send({ device: deps.registry.get(device.id), ...issued });
        },
      );

      api.post<{ Body: unknown }>('/devices/revoke', async (req, reply) => {
        const parsed = BulkRevoke.safeParse(req.body ?? {});
        if (!parsed.success) {
          const i = parsed.error.issues[0];
          return reply
            .code(400)
            .send({ error: 'E_INVALID', message: `${i?.path.join('.') || 'body'}: ${i?.message}` });
        }
        const { ids, createdAfter, tokenIssuedAfter, dryRun } = parsed.data;
        const devices = deps.registry.list();
        const chosen = new Set(ids ?? []);
        for (const d of devices) {
          if (createdAfter !== undefined && d.createdAt >= createdAfter) chosen.add(d.id);
          if (tokenIssuedAfter !== undefined && d.tokens.some((tk) => tk.issuedAt >= tokenIssuedAfter))
            chosen.add(d.id);
        }
        if (dryRun) {
          const byId = new Map(devices.map((d) => [d.id, d]));
          const pick = (f: (d: Device | undefined) => boolean) =>
            [...chosen].filter((id) => f(byId.get(id))).sort();
          return {
            dryRun: true,
            revoked: pick((d) => d !== undefined && d.revokedAt === undefined),
            alreadyRevoked: pick((d) => d?.revokedAt !== undefined),
            unknown: pick((d) => d === undefined),
          };
        }
        const from = originOf(req);
        const result = await deps.registry.revokeMany([...chosen], deps.now(), from);
        if (result.revoked.length > 0) await afterRevoke(result.revoked.map((d) => d.id));
        deps.logger.warn({ devices: result.revoked.map((d) => d.id), from }, 'devices revoked');
        return {
          dryRun: false,
          revoked: result.revoked.map((d) => d.id).sort(),
          alreadyRevoked: result.alreadyRevoked.map((d) => d.id).sort(),
          unknown: result.unknown.sort(),
        };
      });

      api.post<{ Params: { id: string } }>('/devices/:id/token', async (req, reply) => {
        const device = deps.registry.get(req.params.id);
        if (device.revokedAt !== undefined) return reply.code(409).send(revokedError(device));
        return issue(device, req);
      });

      api.post<{ Params: { id: string } }>('/devices/:id/revoke', async (req) => {
        const from = originOf(req);
        const already = deps.registry.get(req.params.id).revokedAt !== undefined;
        const device = await deps.registry.revoke(req.params.id, deps.now(), from);
        if (!already) await afterRevoke([device.id]);
        else await deps.control.publishRevocations(deps.registry.revokedIds());
        deps.logger.warn({ device: device.id, from }, 'device revoked');
        return { device };
      });

      api.post<{ Params: { id: string } }>('/devices/:id/paper-account', async (req, reply) => {
        const device = deps.registry.get(req.params.id);
        if (!deps.createPaperAccount)
          return reply
            .code(404)
            .send({ error: 'E_NO_PAPER_EXCHANGE', message: 'no paper exchange runs here' });
        if (device.revokedAt !== undefined) return reply.code(409).send(revokedError(device));
        const from = originOf(req);
        const account = deps.createPaperAccount(device.id);
        await deps.registry.recordPaperAccount(device.id, {
          createdAt: deps.now(),
          apiKeyPrefix: account.apiKey.slice(0, 4),
          from,
        });
        deps.logger.info(
          { device: device.id, apiKey: account.apiKey.slice(0, 4), from },
          'paper account created',
        );
        return reply.code(201).send(account);
      });

      await api.register(enrolmentAdminRoutes(enrolmentDeps));
      await api.register(eligibilityRoutes(deps.eligibility, deps.logger));
      await api.register(breakerRoutes(deps.breaker));
      await api.register(policyRoutes(deps.policies));
      await api.register(commandRoutes(deps.commands));

      api.get('/admin-token', async () => deps.adminToken.status());

      api.post('/admin-token/rotate', async (req) => {
        const from = originOf(req);
        const rotated = await deps.adminToken.rotate(deps.now(), from);
        deps.logger.warn({ from }, 'admin token rotated: the previous one no longer works');
        return rotated;
      });
    },
    { prefix: '/api' },
  );

  const revokedError = (device: Device) => ({
    error: 'E_DEVICE_REVOKED',
    message: `device ${device.id} is revoked`,
  });

  async function issue(device: Device, req: FastifyRequest) {
    const iat = deps.now();
    const token = issueDeviceToken(
      { sub: device.id, scope: device.scope, iat, ttlMs: deps.deviceTokenTtlMs },
      deps.tokenSigner,
    );
    const from = originOf(req);
    await deps.registry.recordToken(device.id, {
      issuedAt: iat,
      expiresAt: iat + deps.deviceTokenTtlMs,
      fingerprint: createHash('sha256').update(token).digest('hex').slice(0, 16),
      from,
    });
    deps.logger.info({ device: device.id, from }, 'device token issued');
    return { token, tokenKey: exportPublicKey(deps.tokenSigner.publicKey) };
  }

  return app;
}
