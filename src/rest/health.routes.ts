import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';

export interface HealthRoutesOptions {
  ping: () => Promise<boolean>;
}

const Health = Type.Object({ status: Type.String() });

/** `/healthz`: the process runs. `/readyz`: the database answers too; load balancers route by it. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { ping }) => {
  app.get('/healthz', { schema: { hide: true, response: { 200: Health } } }, async () => ({ status: 'ok' }));
  app.get(
    '/readyz',
    { schema: { hide: true, response: { 200: Health, 503: Health } } },
    async (_request, reply) => {
      if (await ping()) return { status: 'ready' };
      return reply.status(503).header('retry-after', '2').send({ status: 'database unavailable' });
    },
  );
};
