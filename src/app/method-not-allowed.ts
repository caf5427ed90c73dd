/**
 * 405 instead of 404 for a URL that exists under another method (RFC 9110
 * §15.5.6), with the `Allow` header listing the methods it has. Fastify's
 * router answers only "no route"; a second router, fed by `onRoute` with every
 * route Fastify registers (HEAD routes included), tells the two apart.
 */
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { FastifyInstance } from 'fastify';

const METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The methods a path has, and the URL pattern of its routes (`/api/orders/:id`) when it has any. */
export interface RouteMethods {
  methods: string[];
  pattern?: string;
}

/** Call before any route is registered; the returned function lists the methods a path has. */
export function trackRouteMethods(app: FastifyInstance): (path: string) => RouteMethods {
  const router = FindMyWay({ ignoreTrailingSlash: true });
  const noop = () => undefined;
  app.addHook('onRoute', (route) => {
    for (const method of ([] as string[]).concat(route.method)) {
      if (METHODS.includes(method as HTTPMethod) && !router.hasRoute(method as HTTPMethod, route.url)) {
        router.on(method as HTTPMethod, route.url, noop, { pattern: route.url });
      }
    }
  });
  return (path) => {
    const found = METHODS.map((method) => [method, router.find(method, path)] as const).filter(([, route]) => route !== null);
    // A path other than OPTIONS (which @fastify/cors's `OPTIONS *` matches everywhere) names the pattern.
    const named = found.find(([method]) => method !== 'OPTIONS') ?? found[0];
    return {
      methods: found.map(([method]) => method),
      pattern: (named?.[1]?.store as { pattern?: string } | undefined)?.pattern,
    };
  };
}
