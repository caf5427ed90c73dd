/**
 * Static security checks, as a security engineer runs linters over a service (not exploits):
 * - eslint-plugin-security's recommended rules over src/ find nothing left untriaged: each finding
 *   was fixed or is disabled at its line with the reason, and `npm run lint` keeps the plugin on;
 * - secretlint's recommended preset finds no credential in any tracked file but the fake ones
 *   listed here (README, "Static security checks");
 * - what a scanner reads on every kind of answer in production mode: `X-Content-Type-Options:
 *   nosniff`, no `X-Powered-By`, `Cache-Control: no-store` on every error and `X-Request-Id`, and no
 *   stack trace, SQL or file path in any body.
 * lockfile-lint (registry, https, integrity) is test/outside/supply-chain.test.ts's.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createEngine } from '@secretlint/node';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config';
import { createTestApp, type TestApp } from '../support/app';

const ROOT = path.resolve(__dirname, '../..');

/** The plugin's recommended rules as eslint.config.mjs turns them on for src/, without type information (fast). */
async function securityLint(patterns: string[] | { code: string; filePath: string }): Promise<string[]> {
  // @ts-expect-error: the ESLint configuration is plain JavaScript, outside the TypeScript project.
  const { default: repoConfig } = (await import('../../eslint.config.mjs')) as { default: Linter.Config[] };
  const own = repoConfig.filter((config) => config.plugins?.security);
  const security = own[0]?.plugins?.security as ESLint.Plugin;
  const rules = Object.assign({}, ...own.map((config) => config.rules)) as Linter.RulesRecord;
  // Node's globals as the repository declares them: the plugin takes `__dirname` for a fixed value only then.
  const globals = Object.assign({}, ...repoConfig.map((config) => config.languageOptions?.globals ?? {})) as Linter.Globals;
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser, globals },
        plugins: { security },
        rules,
        linterOptions: { reportUnusedDisableDirectives: 'error' },
      },
    ],
  });
  const results = Array.isArray(patterns)
    ? await eslint.lintFiles(patterns)
    : await eslint.lintText(patterns.code, { filePath: path.join(ROOT, patterns.filePath) });
  // Only this plugin's findings and its unused disable comments: the other rules' comments are `npm run lint`'s.
  return results.flatMap((result) =>
    result.messages
      .filter((m) => m.ruleId?.startsWith('security/') || (m.ruleId === null && m.message.includes("'security/")))
      .map((m) => `${path.relative(ROOT, result.filePath)}:${m.line} ${m.ruleId ?? 'unused-directive'} ${m.message}`),
  );
}

describe('eslint-plugin-security over src/', { timeout: 120_000 }, () => {
  it('is on for src/ in the repository configuration, with its recommended rules', async () => {
    const config = (await new ESLint({ cwd: ROOT }).calculateConfigForFile(path.join(ROOT, 'src/main.ts'))) as Linter.Config;
    const on = Object.entries(config.rules ?? {})
      .filter(([name, setting]) => name.startsWith('security/') && setting !== 'off' && setting !== 0 && !(Array.isArray(setting) && setting[0] === 'off'))
      .map(([name]) => name);
    expect(on).toEqual(expect.arrayContaining(['security/detect-unsafe-regex', 'security/detect-non-literal-regexp', 'security/detect-child-process', 'security/detect-possible-timing-attacks', 'security/detect-eval-with-expression']));
  });

  it('reports what it is there for: a RegExp built from a request, a nested quantifier, a compared token, eval', async () => {
    const code = [
      "import type { FastifyRequest } from 'fastify';",
      'export function f(request: FastifyRequest<{ Querystring: { q: string } }>, token: string) {',
      '  const search = new RegExp(request.query.q);',
      '  const slow = /^(a+)+$/.test(request.query.q);',
      '  if (token === request.query.q) return eval(request.query.q) as unknown;',
      '  return search.test("x") && slow;',
      '}',
    ].join('\n');
    const found = await securityLint({ code, filePath: 'src/planted.ts' });
    expect(found.map((line) => line.split(' ')[1])).toEqual(
      expect.arrayContaining(['security/detect-non-literal-regexp', 'security/detect-unsafe-regex', 'security/detect-possible-timing-attacks', 'security/detect-eval-with-expression']),
    );
  });

  it('finds nothing untriaged in src/, and no disable comment that no longer has a finding', async () => {
    expect(await securityLint(['src/**/*.ts'])).toEqual([]);
  });
});

/**
 * Fake credentials that are meant to be there, each with why. Any other finding, or one more of these
 * in a file, fails the test.
 */
const FAKE_SECRETS: Record<string, { rule: string; count: number; why: string }> = {
  'deploy/kubernetes/secret.yaml': {
    rule: '@secretlint/secretlint-rule-database-connection-string',
    count: 1,
    why: 'the placeholder password change-me, which the file and README say to replace before applying',
  },
  'test/outside/privacy.test.ts': {
    rule: '@secretlint/secretlint-rule-stripe',
    count: 1,
    why: 'a made-up live-key-shaped token the test sends to check it stays out of the log',
  },
  'test/unit/config.test.ts': {
    rule: '@secretlint/secretlint-rule-database-connection-string',
    count: 1,
    why: 'a URL with a % in its password, to check the start-up message',
  },
};

describe('secretlint over every tracked file', { timeout: 120_000 }, () => {
  it('finds no credential but the listed fakes', async () => {
    const engine = await createEngine({
      cwd: ROOT,
      formatter: 'json',
      maskSecrets: true,
      configFileJSON: { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] },
    });
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    expect(files.length).toBeGreaterThan(300);
    const found: Record<string, { rule: string; count: number }> = {};
    const unexpected: string[] = [];
    for (const file of files) {
      const bytes = fs.readFileSync(path.join(ROOT, file));
      if (bytes.includes(0)) continue; // binary
      const { output } = await engine.executeOnContent({ content: bytes.toString('utf8'), filePath: file });
      for (const result of JSON.parse(output) as { messages: { ruleId: string; message: string }[] }[]) {
        for (const message of result.messages) {
          const known = FAKE_SECRETS[file];
          if (known?.rule === message.ruleId) found[file] = { rule: message.ruleId, count: (found[file]?.count ?? 0) + 1 };
          else unexpected.push(`${file}: ${message.ruleId}: ${message.message}`);
        }
      }
    }
    expect(unexpected).toEqual([]);
    expect(found).toEqual(Object.fromEntries(Object.entries(FAKE_SECRETS).map(([file, { rule, count }]) => [file, { rule, count }])));
  });

  it('would find a real-looking key in a fixture', async () => {
    const engine = await createEngine({
      cwd: ROOT,
      formatter: 'json',
      configFileJSON: { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] },
    });
    const { ok } = await engine.executeOnContent({
      // Put together here, so that this file itself holds no credential for the test above to find.
      content: `NATS_URL=nats://127.0.0.1:4222\nDATABASE_URL=${['postgres://gateway', 'Tr0ub4dor-3@db.internal:5432/orders'].join(':')}\n`,
      filePath: 'test/fixtures/example.env',
    });
    expect(ok).toBe(false);
  });
});

describe('what a scanner reads on every kind of answer, in production mode', () => {
  const METRICS_TOKEN = 'metrics-token-only-for-this-test';
  let t: TestApp;
  let auth = '';
  let port = 0;
  beforeAll(async () => {
    t = await createTestApp({
      ...loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'info', METRICS_TOKEN, PLAYGROUND: 'true' }),
      maxEventLoopDelayMs: 0,
    });
    auth = await t.bearer('acme');
    await t.app.http.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.http.server.address() as net.AddressInfo).port;
  });
  afterAll(() => t?.close());

  /** One request written as is on its own connection; the whole answer as text. */
  function exchange(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
  }
  function parse(answer: string) {
    const end = answer.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = answer.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    return { status: Number(statusLine?.split(' ')[1]), headers, body: answer.slice(end + 4) };
  }
  const request = (line: string, headers: Record<string, string | number> = {}, body = ''): string =>
    `${line} HTTP/1.1\r\n${Object.entries({ host: '127.0.0.1', authorization: auth, ...headers, connection: 'close' })
      .map(([name, value]) => `${name}: ${value}`)
      .join('\r\n')}\r\n\r\n${body}`;
  const json = (body: string): Record<string, string | number> => ({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });

  const LEAKS = /\bat [\w.<>]+ \(|node_modules|\/src\/|\.ts:\d|\bselect\b.+\bfrom\b|\binsert into\b|\bupdate "?orders\b|syntax error at|duplicate key|violates/i;

  const ANSWERS: [name: string, make: () => string, status: number][] = [
    ['an unknown route', () => request('GET /nothing/here'), 404],
    ['a wrong method', () => request('DELETE /api/orders'), 405],
    ['a bad key', () => request('GET /api/orders', { authorization: 'Bearer ogk_nope' }), 401],
    ['an unknown order', () => request('GET /api/orders/order_01ARZ3NDEKTSV4RRFFQ69G5FAV'), 404],
    ['a malformed URL', () => request('GET /api/orders/%E0%A4%A'), 400],
    ['broken JSON', () => request('POST /api/orders', json('{"customer_id": '), '{"customer_id": '), 400],
    ['a body that is not JSON', () => request('POST /api/orders', { 'content-type': 'text/xml', 'content-length': 4 }, '<a/>'), 415],
    ['an invalid order', () => request('POST /api/orders', json('{"items": "x"}'), '{"items": "x"}'), 422],
    ['a bad list filter', () => request("GET /api/orders?min_total=1'%20or%201=1--&from=x"), 422],
    ['a GraphQL syntax error', () => request('POST /graphql', json('{"query":"{"}'), '{"query":"{"}'), 400],
    ['a GraphQL unknown field', () => request('POST /graphql', json('{"query":"{ nosuch }"}'), '{"query":"{ nosuch }"}'), 400],
    ['a GraphQL mutation over GET', () => request('GET /graphql?query=mutation%7B__typename%7D'), 405],
    ['GraphQL with a wrong method', () => request('PUT /graphql', { 'content-length': 0 }), 405],
    ['/metrics without its token', () => request('GET /metrics', { authorization: 'Bearer wrong' }), 401],
    ['a header line Node cannot parse', () => `GET /api/orders HTTP/1.1\r\nhost: x\r\nbad header: y\r\n\r\n`, 400],
    ['an HTTP/1.1 request without Host', () => `GET /api/orders HTTP/1.1\r\nauthorization: ${auth}\r\nconnection: close\r\n\r\n`, 400],
  ];
  it.each(ANSWERS)('%s: nosniff, no X-Powered-By, no-store, a request id, and nothing internal in the body', async (_name, make, status) => {
    const { status: got, headers, body } = parse(await exchange(make()));
    expect(got, body).toBe(status);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-powered-by']).toBeUndefined();
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['x-request-id']).toMatch(/^[\w.:-]{1,128}$/);
    expect(headers['content-type']).toMatch(/^application\/(graphql-response\+)?json/);
    expect(body).not.toMatch(LEAKS);
    const parsed = JSON.parse(body) as { error?: { code: string; message: string }; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    const message = parsed.error?.message ?? parsed.errors?.[0]?.message;
    expect(message).toEqual(expect.any(String));
    for (const error of parsed.errors ?? []) expect(error.extensions ?? {}).not.toHaveProperty('stacktrace');
  });

  it('the playground and the answers that succeed carry nosniff and no X-Powered-By as well', async () => {
    for (const make of [
      () => request('GET /graphql', { accept: 'text/html' }),
      () => request('GET /api/orders'),
      () => request('POST /graphql', json('{"query":"{ __typename }"}'), '{"query":"{ __typename }"}'),
      () => request('GET /healthz'),
      () => request('GET /metrics', { authorization: `Bearer ${METRICS_TOKEN}` }),
    ]) {
      const { status, headers } = parse(await exchange(make()));
      expect(status).toBe(200);
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['x-powered-by']).toBeUndefined();
      expect(headers['cache-control']).toBe('no-store');
    }
  });
});
