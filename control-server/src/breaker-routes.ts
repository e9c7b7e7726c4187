import type { FastifyInstance } from 'fastify';
import { originOf } from './audit.js';
import type { BreakerService } from './breaker-service.js';

/**
 * The breaker's API, under /api and behind the admin token like every /api route (docs:
 * control-server/README.md). A scope is sent in the body, never in the path: a symbol holds a
 * slash, and a path that must be percent-decoded to find its scope is one more way to misroute.
 */
export function breakerRoutes(breaker: BreakerService) {
  return async (api: FastifyInstance) => {
    api.get('/breaker', async () => breaker.view());

    api.post<{ Body: unknown }>('/breaker/overrides', async (req, reply) => {
      const override = await breaker.setOverride(req.body, originOf(req));
      return reply.code(201).send({ override, published: breaker.body() });
    });

    api.post<{ Body: unknown }>('/breaker/overrides/clear', async (req) => {
      const done = await breaker.clearOverride(req.body, originOf(req));
      return { ...done, published: breaker.body() };
    });
  };
}
