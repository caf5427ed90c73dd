import { validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let spec: {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown; requestBody?: unknown; parameters?: unknown; responses: Record<string, Response> }>>;
  components: { securitySchemes: Record<string, unknown> };
};

interface Response {
  description: string;
  content?: Record<string, { schema: { properties?: Record<string, unknown>; required?: string[] } }>;
}

beforeAll(async () => {
  t = await createTestApp();
  const res = await t.app.http.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  spec = res.json();
});
afterAll(() => t.close());

/**
 * Every route the app registered, as `METHOD path`, read from Fastify's own
 * route tree (`printRoutes`), independently of what @fastify/swagger saw.
 */
function registeredRoutes(): string[] {
  const tree = t.app.http.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + match[2];
    stack[depth] = path;
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) routes.push(`${method} ${path}`);
  }
  return routes;
}

const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3 document', async () => {
    expect(spec.openapi).toMatch(/^3\./);
    const result = await validate(structuredClone(spec) as never);
    expect(result.valid ? [] : result.errors).toStrictEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents every route the app registers under /api, and nothing else', () => {
    const apiRoutes = registeredRoutes().filter((route) => / \/api\//.test(route) && !route.startsWith('HEAD '));
    expect(apiRoutes.length).toBeGreaterThanOrEqual(2);
    expect(apiRoutes).toContain('POST /api/orders');
    expect(apiRoutes).toContain('GET /api/orders/:id');
    for (const route of apiRoutes) {
      const [method = '', path = ''] = route.split(' ');
      expect(spec.paths[toOpenApiPath(path)]?.[method.toLowerCase()], route).toBeDefined();
    }
    const documented = Object.entries(spec.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toStrictEqual(apiRoutes.map((route) => route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')).sort());
    for (const hidden of ['/healthz', '/readyz', '/metrics', '/graphql', '/openapi.json', '/docs']) {
      expect(Object.keys(spec.paths).some((path) => path.startsWith(hidden)), hidden).toBe(false);
    }
  });

  it('names its server, relative to where it is served, so linters (Redocly: no-empty-servers) and generators have a base', () => {
    expect((spec as unknown as { servers?: { url: string }[] }).servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it('asks for bearer auth on every operation', () => {
    expect(spec.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, operations] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(operation.security, `${method} ${path}`).toStrictEqual([{ bearerAuth: [] }]);
      }
    }
  });

  it('gives every error status the error envelope, and every operation the auth and server errors', () => {
    for (const [path, operations] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses);
        expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['401', '429', '500', '503']));
        for (const status of statuses.filter((s) => Number(s) >= 400)) {
          const response = operation.responses[status];
          const schema = response.content?.['application/json']?.schema;
          expect(schema?.required, `${method} ${path} ${status}`).toEqual(expect.arrayContaining(['success', 'error']));
          expect(Object.keys((schema?.properties?.error as { properties: object }).properties)).toEqual(
            expect.arrayContaining(['code', 'message', 'request_id']),
          );
          expect(response.description).toContain('error.code');
        }
      }
    }
  });

  it('publishes the create body and the Idempotency-Key header from the route schema, and the service still does the validating', async () => {
    const create = spec.paths['/api/orders']?.post as unknown as { parameters: { in: string; name: string }[] };
    expect(create.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'idempotency-key' })]));
    const body = spec.paths['/api/orders']?.post?.requestBody as { content: Record<string, { schema: { $ref: string } }> };
    const name = body.content['application/json']?.schema.$ref.replace('#/components/schemas/', '') ?? '';
    const schemas = (spec.components as unknown as { schemas: Record<string, { required: string[] }> }).schemas;
    expect(schemas[name]?.required).toEqual(['customer_id', 'items', 'total']);

    // A body the published schema rejects reaches the service, which answers in its own words.
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: await t.bearer(), 'content-type': 'application/json' },
      payload: JSON.stringify({ customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1, colour: 'red' }),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('VALIDATION_ERROR');
  });
});

describe('/docs', () => {
  it('serves Swagger UI and its assets from this server', async () => {
    const page = await t.app.http.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const scripts = [...page.body.matchAll(/src="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      expect(src).not.toMatch(/^(https?:)?\/\//);
      const asset = await t.app.http.inject({ method: 'GET', url: new URL(src, 'http://x/docs/').pathname });
      expect(asset.statusCode, src).toBe(200);
    }
    const json = await t.app.http.inject({ method: 'GET', url: '/docs/json' });
    expect(json.json().paths).toStrictEqual(spec.paths);
  });
});

describe('shared schemas', () => {
  it("carry no response's status text: getOrder's 200 is not described as \"Created\" in Swagger UI or a generated client", () => {
    const schemas = (spec.components as unknown as { schemas: Record<string, { description?: string }> }).schemas;
    const described = Object.entries(schemas)
      .filter(([, schema]) => ['OK', 'Created', 'No Content', 'Success'].includes(schema.description ?? ''))
      .map(([name, schema]) => `${name}: ${schema.description}`);
    expect(described).toStrictEqual([]);
    expect(spec.paths['/api/orders/{id}']?.get?.responses['200']?.description).toBe('OK');
    expect(spec.paths['/api/orders']?.post?.responses['201']?.description).toBe('Created');
  });
});
