import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { parseDeviceRequest, type DeviceRequest } from '@appliance/protocol';
import { originOf } from './audit.js';
import { EnrolmentError } from './enrolment-error.js';
import { asEnrolmentError } from './enrolment-model.js';
import type { EnrolmentService } from './enrolment-service.js';
import type { DeviceRegistry } from './registry.js';

export interface EnrolmentRouteDeps {
  /** Absent: enrolment is disabled (public routes 503, admin routes 409). */
  enrolment?: EnrolmentService;
  registry: DeviceRegistry;
  logger: Logger;
  now: () => number;
}

const disabled = (status?: number) =>
  new EnrolmentError('E_ENROLMENT_DISABLED', 'enrolment is not configured on this control server', status);

/**
 * The public routes' answers are the contract's `{error, message}` whatever went wrong: a body
 * that is not JSON is E_MALFORMED, like one that does not match its schema.
 */
function publicErrorHandler(logger: Logger) {
  return (err: FastifyError | Error, _req: FastifyRequest, reply: FastifyReply) => {
    const e = asEnrolmentError(err);
    if (e instanceof EnrolmentError) return reply.code(e.status).send({ error: e.code, message: e.message });
    const status = (err as FastifyError).statusCode;
    if (status === 413) return reply.code(413).send({ error: 'E_TOO_LARGE', message: err.message });
    if (status !== undefined && status < 500)
      return reply.code(400).send({ error: 'E_MALFORMED', message: err.message.slice(0, 200) });
    logger.error({ err }, 'enrolment request failed');
    return reply.code(500).send({ error: 'E_INTERNAL', message: 'internal error' });
  };
}

/**
 * `POST /enrol`, `/renew`, `/rotate` (docs/enrolment.md): outside /api, no admin token,
 * authenticated by the device request's signature (SIGNED_ROUTES). Each parses its body with the
 * protocol's schema and time window before anything else; a refused request changes nothing.
 */
export function enrolmentPublicRoutes(deps: EnrolmentRouteDeps) {
  return async (app: FastifyInstance) => {
    const errorHandler = publicErrorHandler(deps.logger);
    const parse = <T extends DeviceRequest['typ']>(body: unknown, typ: T) => {
      const r = parseDeviceRequest(body, deps.now());
      if (r.typ !== typ)
        throw new EnrolmentError('E_MALFORMED', `malformed device request: typ: ${typ} expected here`);
      return r as Extract<DeviceRequest, { typ: T }>;
    };
    const service = () => {
      if (!deps.enrolment?.enabled) throw disabled();
      return deps.enrolment;
    };
    app.post('/enrol', { config: { signed: true }, errorHandler }, async (req) => {
      const svc = service();
      return svc.enrol(parse(req.body, 'enrol'), originOf(req));
    });
    app.post('/renew', { config: { signed: true }, errorHandler }, async (req) => {
      const svc = service();
      return svc.renew(parse(req.body, 'renew'), originOf(req));
    });
    app.post('/rotate', { config: { signed: true }, errorHandler }, async (req) => {
      const svc = service();
      return svc.rotate(parse(req.body, 'rotate'), originOf(req));
    });
  };
}

/** The admin's enrolment routes, inside the /api scope (admin token). */
export function enrolmentAdminRoutes(deps: EnrolmentRouteDeps) {
  return async (api: FastifyInstance) => {
    const service = () => {
      if (!deps.enrolment) throw disabled(409);
      return deps.enrolment;
    };

    api.post('/enrolments', async (req, reply) =>
      reply.code(201).send(await service().createEnrolment(req.body, originOf(req))),
    );

    api.post<{ Params: { id: string } }>('/devices/:id/enrolment-tokens', async (req, reply) =>
      reply.code(201).send(await service().createToken(req.params.id, req.body, originOf(req))),
    );

    api.get('/enrolment-tokens', async () => ({ tokens: deps.enrolment?.listTokens() ?? [] }));

    api.post<{ Params: { id: string } }>('/enrolment-tokens/:id/revoke', async (req) => ({
      token: await service().revokeToken(req.params.id, originOf(req)),
    }));

    api.post<{ Params: { id: string } }>('/devices/:id/rotate-keys', async (req) => {
      deps.registry.get(req.params.id);
      const enrolment = await service().requestRotation(req.params.id, originOf(req));
      return { device: deps.registry.get(req.params.id), enrolment };
    });

    api.post<{ Params: { id: string } }>('/devices/:id/keys', async (req) => {
      return service().registerKeys(req.params.id, req.body, originOf(req));
    });

    api.get<{ Params: { id: string } }>('/devices/:id', async (req) => {
      const device = deps.registry.get(req.params.id);
      return { device: { ...device, enrolment: deps.enrolment?.summary(device.id) ?? null } };
    });
  };
}
