import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';

export interface HealthRoutesOptions {
  ping: () => Promise<boolean>;
  /** Migrations not yet applied; while there are any, every call would fail, so the process is not ready. */
  pendingMigrations?: () => Promise<string[]>;
}

const Health = Type.Object({ status: Type.String() });

/**
 * `/healthz`: the process runs. `/readyz`: the database answers too, and its
 * schema is up to date (no pending migration); load balancers route by it.
 * Neither may be stored by a cache (`Cache-Control: no-store`).
 */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { ping, pendingMigrations }) => {
  // Once the schema is up to date it stays so for this process: checked until then, not after.
  let migrated = pendingMigrations === undefined;
  // A probe's answer is this process's state now. Without a word on caching, a shared cache in front
  // kept it (nginx's `proxy_cache_valid 200 1m` a minute, Varnish's built-in VCL two): a monitor
  // reading /readyz through it heard "ready" from a process that was draining or gone.
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.header('cache-control', 'no-store');
    done();
  });
  app.get('/healthz', { schema: { hide: true, response: { 200: Health } } }, async () => ({ status: 'ok' }));
  app.get(
    '/readyz',
    { schema: { hide: true, response: { 200: Health, 503: Health } } },
    async (_request, reply) => {
      if (!(await ping())) return reply.status(503).header('retry-after', '2').send({ status: 'database unavailable' });
      if (!migrated && pendingMigrations) {
        const pending = await pendingMigrations().catch(() => undefined);
        if (pending === undefined) return reply.status(503).header('retry-after', '2').send({ status: 'database unavailable' });
        if (pending.length > 0) {
          return reply
            .status(503)
            .header('retry-after', '5')
            .send({ status: `migrations pending: ${pending.join(', ')} (run \`order-gateway migrate\`)` });
        }
        migrated = true;
      }
      return { status: 'ready' };
    },
  );
};
