/**
 * 405 instead of 404 for a URL that exists under another method (RFC 9110
 * §15.5.6), with the `Allow` header listing the methods it has. Fastify's
 * router answers only "no route"; a second router, fed by `onRoute` with every
 * route Fastify registers (HEAD routes included), tells the two apart.
 */
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { FastifyInstance } from 'fastify';

const METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Call before any route is registered; the returned function lists the methods a path has. */
export function trackRouteMethods(app: FastifyInstance): (path: string) => string[] {
  const router = FindMyWay({ ignoreTrailingSlash: true });
  const noop = () => undefined;
  app.addHook('onRoute', (route) => {
    for (const method of ([] as string[]).concat(route.method)) {
      if (METHODS.includes(method as HTTPMethod) && !router.hasRoute(method as HTTPMethod, route.url)) {
        router.on(method as HTTPMethod, route.url, noop);
      }
    }
  });
  return (path) => METHODS.filter((method) => router.find(method, path) !== null);
}
