/**
 * graphql-eslint, as an API-design reviewer runs it: the repository's own lint configuration
 * (eslint.config.mjs: schema-recommended and relay on schema.graphql, operations-recommended on the
 * operations the repository ships) finds nothing, and a planted violation is reported, so the
 * check is not silently empty. README's operations (curl, TypeScript, graphql-ws, the playground)
 * and the benchmarks' mutation are linted as operations too: a client copies them as they are.
 *
 * Its relay-edge-types rule found that a delivery, an edge's node, was no Node: `node(id: "whdl_…")`
 * answered null, and a Relay client could not refetch a delivery or an endpoint by id. Both are
 * nodes now (README, "Relay"; test/http/graphql-webhooks.test.ts refetches them).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ESLint, type Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_QUERY } from '../../src/playground/playground.page';

const ROOT = path.resolve(__dirname, '../..');
const SCHEMA = fs.readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8');

const findings = (results: ESLint.LintResult[]): string[] =>
  results.flatMap((result) =>
    result.messages.map((m: Linter.LintMessage) => `${path.relative(ROOT, result.filePath)}:${m.line} ${m.ruleId}: ${m.message}`),
  );

/** The repository's lint configuration, as `npm run lint` runs it. */
const repoLint = () => new ESLint({ cwd: ROOT });

/** README's GraphQL operations: the `query` of the curl example and the TypeScript ones, and the inline subscriptions. */
function readmeOperations(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const operations = new Set<string>();
  for (const m of readme.matchAll(/"query": "((?:mutation|query|subscription)[^"]*)"/g)) operations.add(m[1]);
  for (const m of readme.matchAll(/query: `((?:mutation|query|subscription)[^`]*)`/g)) operations.add(m[1]);
  for (const m of readme.matchAll(/query: '((?:mutation|query|subscription)[^']*)'/g)) operations.add(m[1]);
  for (const m of readme.matchAll(/`(subscription [A-Za-z]*\s*\{[^`]*\})`/g)) operations.add(m[1]);
  return [...operations];
}

/**
 * bench/load.ts's createOrder, read from its source: importing the module would install the benchmarks'
 * SIGINT and SIGTERM handlers in the test worker.
 */
function benchMutation(): string {
  const source = fs.readFileSync(path.join(ROOT, 'bench/load.ts'), 'utf8');
  const fields = /const ORDER_FIELDS = `([^`]*)`/.exec(source)?.[1];
  const mutation = /const CREATE_MUTATION = `([^`]*)`/.exec(source)?.[1];
  expect(fields && mutation).toBeTruthy();
  return mutation!.replace('${ORDER_FIELDS}', fields!);
}

/** Lints each text as an operation document of its own against schema.graphql, with the repository's operation rules. */
async function lintOperations(texts: string[]): Promise<string[]> {
  // @ts-expect-error: the ESLint configuration is plain JavaScript, outside the TypeScript project.
  const { graphqlOperationRules } = (await import('../../eslint.config.mjs')) as { graphqlOperationRules: Linter.RulesRecord };
  const graphql = (await import('@graphql-eslint/eslint-plugin')).default;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graphql-eslint-'));
  try {
    const problems: string[] = [];
    for (const [i, text] of texts.entries()) {
      const file = path.join(dir, `operation-${i}.graphql`);
      fs.writeFileSync(file, text);
      const eslint = new ESLint({
        cwd: dir,
        overrideConfigFile: true,
        overrideConfig: [
          {
            files: ['**/*.graphql'],
            languageOptions: {
              parser: graphql.parser,
              parserOptions: { graphQLConfig: { schema: path.join(ROOT, 'schema.graphql'), documents: file } },
            },
            plugins: { '@graphql-eslint': graphql as unknown as ESLint.Plugin },
            rules: graphqlOperationRules,
          },
        ],
      });
      for (const finding of findings(await eslint.lintFiles([file]))) problems.push(`${text.slice(0, 60)}… ${finding.replace(/^.*? /, '')}`);
    }
    return problems;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('graphql-eslint on schema.graphql', () => {
  it('finds nothing with schema-recommended and relay, less the rules the configuration turns off with a reason', async () => {
    expect(findings(await repoLint().lintFiles(['schema.graphql']))).toStrictEqual([]);
  });

  it('reports a field without a description, planted in a copy', async () => {
    const planted = SCHEMA.replace('  """Carrier tracking number, once shipped"""\n  trackingNumber: String', '  trackingNumber: String');
    expect(planted).not.toBe(SCHEMA);
    const [result] = await repoLint().lintText(planted, { filePath: path.join(ROOT, 'schema.graphql') });
    expect(result.messages.map((m) => `${m.ruleId}: ${m.message}`)).toStrictEqual([
      '@graphql-eslint/require-description: Description is required for field "trackingNumber" in type "Order"',
    ]);
  });
});

describe('graphql-eslint on the operations the repository ships', () => {
  it('the web app’s (codegen), the benchmarks’ and the playground’s first tab: nothing', async () => {
    const files = ['test/fixtures/codegen/operations.graphql', 'bench/side-by-side/requests/create-order.graphql', 'src/playground/playground.page.ts'];
    const results = await repoLint().lintFiles(files);
    expect(results.map((result) => path.relative(ROOT, result.filePath)).sort()).toStrictEqual([...files].sort());
    expect(findings(results)).toStrictEqual([]);
  }, 300_000); // playground.page.ts is also linted as TypeScript, with type information

  it('README’s operations, the playground’s and bench/load.ts’s mutation: each valid, named and selecting ids', async () => {
    const operations = readmeOperations();
    expect(operations.length).toBeGreaterThanOrEqual(4);
    expect(await lintOperations([...operations, EXAMPLE_QUERY, benchMutation()])).toStrictEqual([]);
  });

  it('reports a field the schema does not have and an anonymous operation, planted', async () => {
    const problems = await lintOperations(['query { order(id: "order_x") { id totl } }']);
    expect(problems.join('\n')).toMatch(/no-anonymous-operations/);
    expect(problems.join('\n')).toMatch(/fields-on-correct-type: Cannot query field "totl" on type "Order"/);
  });
});
