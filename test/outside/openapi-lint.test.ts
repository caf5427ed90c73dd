/**
 * The served `/openapi.json` as a team that only sees the document lints it:
 * Redocly's linter (@redocly/openapi-core, the engine of `redocly lint`) with
 * its `recommended` ruleset, offline (the ruleset is built in; nothing is
 * fetched). No errors at all; the warnings are exactly the ones judged and
 * accepted below, so a new one fails until someone judges it too.
 */
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

/** Warnings of the recommended ruleset that are judged right for this document, and why. */
const ACCEPTED_WARNINGS: Record<string, string> = {
  // A private service's API: there is no licence to state (package.json says UNLICENSED).
  'info-license#/info': 'no licence to name',
  // Named for answers that belong to no operation (unknown /api URL 404, 405 with Allow): the
  // description points at it, and test/outside/openapi-responses.test.ts checks those answers against it.
  'no-unused-components#/components/schemas/ErrorEnvelope': 'used by the description',
};

let t: TestApp;
let source: string;

beforeAll(async () => {
  t = await createTestApp();
  const res = await t.app.http.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  source = res.body;
});
afterAll(async () => {
  await t?.close();
});

async function lint(text: string, rules: Record<string, 'error' | 'warn'> = {}) {
  const config = await createConfig({ extends: ['recommended'], rules });
  const problems = await lintFromString({ source: text, absoluteRef: 'openapi.json', config });
  return problems.map((p) => ({
    severity: p.severity,
    rule: p.ruleId,
    where: p.location[0]?.pointer ?? '',
    message: p.message,
  }));
}

describe('the served OpenAPI document under Redocly recommended', () => {
  it('has no errors, and only the accepted warnings', async () => {
    const problems = await lint(source);
    expect(problems.filter((p) => p.severity === 'error')).toStrictEqual([]);
    expect(
      problems
        .filter((p) => p.severity === 'warn')
        .map((p) => `${p.rule}${p.where}`)
        .sort(),
    ).toStrictEqual(Object.keys(ACCEPTED_WARNINGS).sort());
  });

  it('declares its tags and describes every operation (what Spectral’s oas ruleset also asks)', async () => {
    const rules = { 'operation-tag-defined': 'error', 'operation-description': 'error' } as const;
    const problems = (await lint(source, rules)).filter((p) => p.rule in rules);
    expect(problems.map((p) => `${p.rule}${p.where}`)).toStrictEqual([]);
  });

  it('the check can fail: missing or repeated operationIds, and an example that breaks its schema', async () => {
    const doc = JSON.parse(source) as {
      paths: Record<
        string,
        Record<
          string,
          {
            operationId?: string;
            requestBody?: { content: Record<string, { example: { items: { quantity: unknown }[] } }> };
          }
        >
      >;
    };
    delete doc.paths['/api/orders'].get.operationId;
    doc.paths['/api/orders'].post.operationId = 'getOrder';
    doc.paths['/api/orders'].post.requestBody!.content['application/json'].example.items[0].quantity = 'two';
    const rules = (await lint(JSON.stringify(doc))).map((p) => p.rule);
    expect(rules).toEqual(
      expect.arrayContaining([
        'operation-operationId',
        'operation-operationId-unique',
        'no-invalid-media-type-examples',
      ]),
    );
  });
});
