import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ProtocolError } from '@appliance/protocol';
import { originOf } from './audit.js';
import { MAX_SIMULATOR_BODY_BYTES, type EligibilityService } from './eligibility.js';
import { EligibilityError } from './eligibility-error.js';

/**
 * Eligibility's API under /api (docs: control-server/README.md, ## Eligibility API): the signed
 * simulator submissions (the one route a signature authenticates instead of the admin token),
 * the view and history, approvals, rejections, pins and blocks.
 */
export function eligibilityRoutes(eligibility: EligibilityService, logger: Logger) {
  return async (api: FastifyInstance) => {
    api.post<{ Body: unknown }>(
      '/simulator/results',
      { config: { signed: true }, bodyLimit: MAX_SIMULATOR_BODY_BYTES },
      async (req, reply) => {
        try {
          const result = await eligibility.submit(req.body);
          logger.info({ ...result, remote: req.ip }, 'simulator results taken');
          return reply.code(201).send(result);
        } catch (err) {
          // Each refusal is logged: a stream of them is someone probing with a key they lack.
          if (err instanceof EligibilityError || err instanceof ProtocolError)
            logger.warn({ code: err.code, reason: err.message, remote: req.ip }, 'simulator results refused');
          throw err;
        }
      },
    );

    api.get('/eligibility', async () => eligibility.view());

    api.get<{ Querystring: { limit?: string } }>('/eligibility/history', async (req, reply) => {
      const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 5000)
        return reply.code(400).send({ error: 'E_INVALID', message: 'limit: a whole number from 1 to 5000' });
      return { entries: eligibility.history(limit) };
    });

    api.post<{ Params: { id: string }; Body: unknown }>('/eligibility/pending/:id/approve', async (req) => {
      const change = await eligibility.approve(req.params.id, req.body, originOf(req));
      logger.warn({ change: change.changeId, from: originOf(req) }, 'eligibility change approved');
      return { approved: change.changeId, eligibility: eligibility.inForce()[change.stream] };
    });

    api.post<{ Params: { id: string }; Body: unknown }>('/eligibility/pending/:id/reject', async (req) => {
      const change = await eligibility.reject(req.params.id, req.body, originOf(req));
      logger.warn({ change: change.changeId, from: originOf(req) }, 'eligibility change rejected');
      return { rejected: change.changeId };
    });

    api.post<{ Body: unknown }>('/eligibility/overrides', async (req) => {
      const done = await eligibility.override(req.body, originOf(req));
      logger.warn({ ...done, from: originOf(req) }, 'eligibility override');
      return { ...done, eligibility: eligibility.inForce()[done.stream] ?? null };
    });
  };
}
