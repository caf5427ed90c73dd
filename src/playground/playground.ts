/**
 * GraphiQL at `GET /graphql` for browsers. A request whose Accept header
 * prefers HTML gets the page; every other GET or POST to `/graphql` goes on to
 * Apollo untouched. The scripts and styles are the UMD builds in
 * node_modules (graphiql 4, React 18, graphql-ws), served by `/graphql/assets/*`.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { isLocalBrowser, readDevelopmentKey } from '../app/development-key';
import { ASSET_PREFIX, PLAYGROUND_CSP, PLAYGROUND_CSS, PLAYGROUND_SCRIPT, playgroundHtml } from './playground.page';
import { routeUrl } from '../app/route-url';

export interface PlaygroundOptions {
  /** The GraphQL endpoint the page talks to. */
  endpoint: string;
  /**
   * Where to read a key to fill in (development on the embedded database), or
   * null for the placeholder. It is read on each page load: the server writes
   * the file after the app is built.
   */
  developmentKeyDir: string | null;
}

interface Asset {
  contentType: string;
  /** Loaded on first request and kept: these files do not change while the server runs. */
  load: () => Buffer;
}

const versions = new Map<string, string>();

/** The first 16 hex digits of the SHA-256 of an asset's content: the `v` of the URL the page gives it. */
function assetVersion(file: string, asset: Asset): string {
  let version = versions.get(file);
  if (version === undefined) {
    version = createHash('sha256').update(asset.load()).digest('hex').slice(0, 16);
    versions.set(file, version);
  }
  return version;
}

/**
 * The page names each asset with its content's version (`?v=`), and that URL is cached for a year,
 * immutable: its bytes never change. Before, the names were bare and kept an hour, so for an hour
 * after an upgrade a browser or a CDN ran the new page with the old scripts. The bare name (or another
 * version's) still answers, with today's content, but no cache may keep it without asking again.
 */
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

function assetUrl(file: string): string {
  const asset = ASSETS.get(file);
  if (!asset) throw new Error(`No playground asset ${file}`);
  return `${ASSET_PREFIX}/${file}?v=${assetVersion(file, asset)}`;
}

function packageFile(pkg: string, file: string): () => Buffer {
  let cached: Buffer | undefined;
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
  return () => (cached ??= fs.readFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file)));
}

const JS = 'application/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

const ASSETS = new Map<string, Asset>(Object.entries({
  'react.production.min.js': { contentType: JS, load: packageFile('react', 'umd/react.production.min.js') },
  'react-dom.production.min.js': { contentType: JS, load: packageFile('react-dom', 'umd/react-dom.production.min.js') },
  'graphiql.min.js': { contentType: JS, load: packageFile('graphiql', 'graphiql.min.js') },
  'graphql-ws.min.js': { contentType: JS, load: packageFile('graphql-ws', 'umd/graphql-ws.min.js') },
  'graphiql.min.css': { contentType: CSS, load: packageFile('graphiql', 'graphiql.min.css') },
  'playground.js': { contentType: JS, load: () => Buffer.from(PLAYGROUND_SCRIPT) },
  'playground.css': { contentType: CSS, load: () => Buffer.from(PLAYGROUND_CSS) },
} satisfies Record<string, Asset>));

/** The q-value a media range in an Accept header gives `type`, 0 when none matches. */
function quality(accept: string, type: string): number {
  let best = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().toLowerCase().split(';');
    if (range.trim() !== type) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
    best = Math.max(best, q === undefined ? 1 : Number(q) || 0);
  }
  return best;
}

/** True when the caller is a browser asking for a page rather than a GraphQL client asking for JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = quality(accept, 'text/html');
  const json = Math.max(quality(accept, 'application/json'), quality(accept, 'application/graphql-response+json'));
  return html > 0 && html >= json;
}

export function registerPlayground(app: FastifyInstance, options: PlaygroundOptions): void {
  const sendPage = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // The development key is only ever shown to a browser on this machine that calls it by a loopback name.
    const apiKey = options.developmentKeyDir && isLocalBrowser(request) ? await readDevelopmentKey(options.developmentKeyDir) : undefined;
    void reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', PLAYGROUND_CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .send(playgroundHtml({ endpoint: options.endpoint, pagePath: new URL(request.url, 'http://page').pathname, apiKey, assetUrl }));
  };

  // Callback style, because every request of the app passes here. A browser's page is the answer
  // itself, so `done` is not called then (Fastify's way to respond from a callback hook).
  app.addHook('onRequest', (request, reply, done) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || routeUrl(request) !== options.endpoint) return done();
    if (!prefersHtml(request.headers.accept)) return done();
    sendPage(request, reply).catch(done);
  });

  app.get(
    `${ASSET_PREFIX}/:file`,
    { schema: { hide: true, params: Type.Object({ file: Type.String() }) } },
    async (request, reply) => {
      const file = (request.params as { file: string }).file;
      const asset = ASSETS.get(file);
      if (!asset) return reply.callNotFound();
      const current = (request.query as { v?: unknown }).v === assetVersion(file, asset);
      return reply
        .header('content-type', asset.contentType)
        .header('cache-control', current ? IMMUTABLE : REVALIDATE)
        .header('x-content-type-options', 'nosniff')
        .send(asset.load());
    },
  );
}
