import type { FastifyInstance } from 'fastify';
import { originOf } from './audit.js';
import { BreakerScopeName } from './breaker-overrides.js';
import type { BreakerService } from './breaker-service.js';

/**
 * The breaker's API, under /api and behind the admin token like every /api route (docs:
 * control-server/README.md). A scope is sent in the body, never in the path: a symbol holds a
 * slash, and a path that must be percent-decoded to find its scope is one more way to misroute.
 */
export function breakerRoutes(breaker: BreakerService) {
  return async (api: FastifyInstance) => {
    api.get('/breaker', async () => breaker.view());

    api.get<{ Querystring: { limit?: string; scope?: string } }>('/breaker/history', async (req, reply) => {
      const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 5000)
        return reply.code(400).send({ error: 'E_INVALID', message: 'limit: a whole number from 1 to 5000' });
      const scope = req.query.scope;
      if (scope !== undefined && !BreakerScopeName.safeParse(scope).success)
        return reply
          .code(400)
          .send({ error: 'E_INVALID', message: 'scope: market, or a symbol such as BTC/USDT' });
      return { events: breaker.history(limit, scope) };
    });

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
