import type { FastifyRequest } from 'fastify';

const ROUTE_URL = Symbol('routeUrl');
type WithRouteUrl = FastifyRequest & { [ROUTE_URL]?: string | null };

/**
 * The URL pattern of the route a request matched (`/api/orders/:id`), or
 * `undefined` when none did (a 404).
 *
 * Fastify's `request.routeOptions` builds a new object of thirteen fields on
 * every read, and the gateway's hooks ask for the route's URL about eight
 * times per request (security headers, load shedding, rate limits, GraphQL
 * authentication, the response-size limit, telemetry…). Here it is read once
 * per request and kept on the request. So a handler that hands its request
 * to the not-found handler (`reply.callNotFound()`, the playground's unknown
 * assets) is still counted under its own route, with its 404 status.
 */
export function routeUrl(request: FastifyRequest): string | undefined {
  const known = (request as WithRouteUrl)[ROUTE_URL];
  if (known !== undefined) return known ?? undefined;
  const url = request.routeOptions.url;
  (request as WithRouteUrl)[ROUTE_URL] = url ?? null;
  return url;
}

/** Counts a request that no route took (a 405 on a known URL) under the route pattern of its URL. */
export function setRouteUrl(request: FastifyRequest, url: string): void {
  (request as WithRouteUrl)[ROUTE_URL] = url;
}

/** True for a request to the API itself (`/api…` or GraphQL), not a probe, `/metrics` or the docs. */
export function isApiRequest(request: FastifyRequest, graphqlPath: string): boolean {
  const path = routeUrl(request) ?? request.url.split('?', 1)[0] ?? '';
  return path === graphqlPath || path === '/api' || path.startsWith('/api/');
}
