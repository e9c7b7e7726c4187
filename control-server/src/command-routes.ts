import type { FastifyInstance } from 'fastify';
import { originOf } from './audit.js';
import type { CommandService } from './command-service.js';

/**
 * The fleet commands' API, under /api and behind the admin token like every /api route (docs:
 * control-server/README.md, "Fleet commands"): issue, then confirm with the returned id.
 */
export function commandRoutes(commands: CommandService) {
  return async (api: FastifyInstance) => {
    api.get('/commands', async () => commands.list());

    api.get<{ Params: { id: string } }>('/commands/:id', async (req) => commands.get(req.params.id));

    api.post<{ Body: unknown }>('/commands', async (req, reply) =>
      reply.code(201).send(commands.issue(req.body, originOf(req))),
    );

    api.post<{ Params: { id: string }; Body: unknown }>('/commands/:id/confirm', async (req) => {
      const command = await commands.confirm(req.params.id, req.body, originOf(req));
      return commands.get(command.id);
    });
  };
}
