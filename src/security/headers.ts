/**
 * Security headers on every response, through @fastify/helmet.
 *
 * The API answers JSON, so its Content-Security-Policy forbids everything: a
 * response rendered as a page by mistake can load nothing and be framed by
 * nobody. Two features serve real pages and get a policy that lets them run
 * from this origin only, with no inline script:
 * - Swagger UI under `/docs` (scripts, styles and `/docs/json` from 'self';
 *   inline styles, which its React components set);
 * - the GraphiQL playground at `GET /graphql`, which sends its own policy
 *   with the page (src/playground), replacing this one.
 *
 * `/api` and `/graphql` responses, and every error, are also marked
 * `Cache-Control: no-store`: they carry one workspace's orders, or say what
 * went wrong with this one request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { routeUrl } from '../app/route-url';

export interface SecurityHeadersOptions {
  /** Where Swagger UI is served. */
  docsPrefix: string;
  graphqlPath: string;
}

const API_POLICY = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

export const DOCS_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

const HELMET_OPTIONS = {
  // `useDefaults: false`: Helmet's defaults include upgrade-insecure-requests, which breaks plain-HTTP development.
  contentSecurityPolicy: { useDefaults: false, directives: API_POLICY },
  // Nothing here is meant to be framed.
  frameguard: { action: 'deny' },
} satisfies HelmetOptions;

let staticHeaders: Record<string, string> | undefined;

/**
 * The API's security headers as plain name/value pairs: every API response
 * gets them (see `registerSecurityHeaders`), and so do responses written to a
 * socket by hand (Node's own refusals). Helmet computes them once.
 */
export function apiSecurityHeaders(): Record<string, string> {
  if (!staticHeaders) {
    const collected: Record<string, string> = {};
    const response = {
      setHeader(name: string, value: string | number | readonly string[]) {
        collected[name] = Array.isArray(value) ? value.join(', ') : String(value);
      },
      removeHeader(name: string) {
        delete collected[name];
      },
    };
    helmet(HELMET_OPTIONS)({} as IncomingMessage, response as unknown as ServerResponse, () => undefined);
    staticHeaders = collected;
  }
  return staticHeaders;
}

type ErrorHandler = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;

/**
 * For Fastify's `frameworkErrors` (a malformed URL, an over-long path
 * parameter): Fastify answers those before any hook runs, so the headers the
 * hooks would add are set here before the usual error handler answers.
 */
export function withSecurityHeaders(handler: ErrorHandler): ErrorHandler {
  return (error, request, reply) => {
    reply
      .headers(apiSecurityHeaders())
      .header('x-request-id', request.id)
      .header('cache-control', 'no-store');
    handler(error, request, reply);
  };
}

/**
 * The API's headers on every response but Swagger UI's (`registerDocsSecurityHeaders`),
 * and `Cache-Control: no-store` on `/api`, `/graphql` and every error. Call it before the routes.
 */
export async function registerSecurityHeaders(
  app: FastifyInstance,
  options: SecurityHeadersOptions,
): Promise<void> {
  const isDocs = (url: string | undefined) =>
    url !== undefined && (url === options.docsPrefix || url.startsWith(`${options.docsPrefix}/`));
  // Helmet builds its middleware again for every request it handles (0.04–0.08 ms each), and its
  // hooks cost every request two promises even where it does nothing; so every response gets the
  // headers Helmet computed once for HELMET_OPTIONS, and Helmet itself runs only for Swagger UI.
  const headers = apiSecurityHeaders();
  app.addHook('onRequest', (request, reply, done) => {
    if (!isDocs(routeUrl(request))) reply.headers(headers);
    done();
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    const path = routeUrl(request) ?? request.url.split('?', 1)[0] ?? '';
    const guarded = path === options.graphqlPath || path === '/api' || path.startsWith('/api/');
    // An error anywhere (an unknown route's 404, /metrics' 401) is this request's answer now: a 404
    // is cacheable by default (RFC 9111 §4.2.2), and a shared cache must not keep it either.
    if ((guarded || reply.statusCode >= 400) && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}

/**
 * Helmet with Swagger UI's policy (DOCS_POLICY), for the routes of `docs`: an
 * encapsulated plugin holding Swagger UI's routes and nothing else, so that
 * Helmet's hooks run for those routes only.
 */
export async function registerDocsSecurityHeaders(docs: FastifyInstance): Promise<void> {
  await docs.register(fastifyHelmet, {
    ...HELMET_OPTIONS,
    contentSecurityPolicy: { useDefaults: false, directives: DOCS_POLICY },
  });
}
