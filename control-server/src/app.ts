import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import { issueDeviceToken, exportPublicKey, type Signer } from '@appliance/protocol';
import { bearerMatches } from './admin-auth.js';
import type { ControlPublisher } from './control-publisher.js';
import { DASHBOARD_HTML } from './dashboard.js';
import type { FleetView } from './fleet.js';
import { RegistryError, type DeviceRegistry } from './registry.js';

export interface AppDeps {
  registry: DeviceRegistry;
  fleet: FleetView;
  control: ControlPublisher;
  /** Signs device tokens; its public key is what gateways pin. */
  tokenSigner: Signer;
  adminToken: string;
  logger: Logger;
  now: () => number;
  deviceTokenTtlMs: number;
  /** Creates a paper-exchange account for a device, when a paper exchange runs here. */
  createPaperAccount?: (deviceId: string) => { apiKey: string; secret: string };
}

const STATUS: Record<RegistryError['code'], number> = {
  E_DEVICE_EXISTS: 409,
  E_DEVICE_UNKNOWN: 404,
  E_INVALID: 400,
  E_REGISTRY_CORRUPT: 500,
};

export function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof RegistryError)
      return reply.code(STATUS[err.code]).send({ error: err.code, message: err.message });
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.logger.error({ err }, 'request failed');
    return reply
      .code(status)
      .send({ error: err.code ?? 'E_INTERNAL', message: status === 500 ? 'internal error' : err.message });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));

  // Everything under /api needs the admin token.
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/')) return;
    if (!bearerMatches(req.headers.authorization, deps.adminToken)) {
      return reply
        .code(401)
        .send({ error: 'E_UNAUTHORIZED', message: 'admin token required (Authorization: Bearer ...)' });
    }
  });

  app.get('/api/fleet', async () => ({
    breaker: deps.control.breaker,
    devices: deps.fleet.entries(deps.registry.list(), deps.now()),
  }));

  app.get('/api/devices', async () => ({ devices: deps.registry.list() }));

  app.post<{ Body: { id?: unknown; scope?: unknown; label?: unknown } }>(
    '/api/devices',
    async (req, reply) => {
      const body = req.body ?? {};
      if (typeof body.id !== 'string')
        return reply.code(400).send({ error: 'E_INVALID', message: 'id: a string is required' });
      const device = await deps.registry.create(
        {
          id: body.id,
          scope: typeof body.scope === 'string' ? body.scope : undefined,
          label: typeof body.label === 'string' ? body.label : undefined,
        },
        deps.now(),
      );
      deps.logger.info({ device: device.id, scope: device.scope }, 'device created');
      return reply.code(201).send({ device, ...issue(device.id, device.scope) });
    },
  );

  app.post<{ Params: { id: string } }>('/api/devices/:id/token', async (req, reply) => {
    const device = deps.registry.get(req.params.id);
    if (device.revokedAt !== undefined) {
      return reply.code(409).send({ error: 'E_DEVICE_REVOKED', message: `device ${device.id} is revoked` });
    }
    return issue(device.id, device.scope);
  });

  app.post<{ Params: { id: string } }>('/api/devices/:id/revoke', async (req) => {
    const device = await deps.registry.revoke(req.params.id, deps.now());
    await deps.control.publishRevocations(deps.registry.revokedIds());
    deps.logger.warn({ device: device.id }, 'device revoked');
    return { device };
  });

  app.post<{ Params: { id: string } }>('/api/devices/:id/paper-account', async (req, reply) => {
    const device = deps.registry.get(req.params.id);
    if (!deps.createPaperAccount)
      return reply.code(404).send({ error: 'E_NO_PAPER_EXCHANGE', message: 'no paper exchange runs here' });
    return reply.code(201).send(deps.createPaperAccount(device.id));
  });

  function issue(id: string, scope: string) {
    const token = issueDeviceToken(
      { sub: id, scope, iat: deps.now(), ttlMs: deps.deviceTokenTtlMs },
      deps.tokenSigner,
    );
    return { token, tokenKey: exportPublicKey(deps.tokenSigner.publicKey) };
  }

  return app;
}
