import type { FastifyInstance } from 'fastify';
import { originOf } from './audit.js';
import type { PolicyService } from './policy-service.js';

/**
 * The spending policies' API, under /api and behind the admin token like every /api route (docs:
 * control-server/README.md, "Spending policies"). A profile is one path segment, `:` as it is
 * (`/api/policies/mandate:acme`), checked against the profile pattern by the service.
 */
export function policyRoutes(policies: PolicyService) {
  return async (api: FastifyInstance) => {
    api.get('/policies', async () => policies.list());

    api.get<{ Params: { profile: string } }>('/policies/:profile', async (req) =>
      policies.versions(req.params.profile),
    );

    api.get<{ Params: { profile: string }; Querystring: { from?: string; to?: string } }>(
      '/policies/:profile/diff',
      async (req) => policies.diff(req.params.profile, req.query.from, req.query.to),
    );

    api.get<{ Params: { profile: string; version: string } }>('/policies/:profile/:version', async (req) =>
      policies.get(req.params.profile, req.params.version),
    );

    api.post<{ Params: { profile: string }; Body: unknown }>('/policies/:profile', async (req, reply) => {
      const version = await policies.create(req.params.profile, req.body, originOf(req));
      return reply.code(201).send(version);
    });

    api.post<{ Params: { profile: string }; Body: unknown }>(
      '/policies/:profile/rollback',
      async (req, reply) => {
        const version = await policies.rollback(req.params.profile, req.body, originOf(req));
        return reply.code(201).send(version);
      },
    );
  };
}
