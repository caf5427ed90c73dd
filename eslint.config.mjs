import js from '@eslint/js';
import graphql from '@graphql-eslint/eslint-plugin';
import security from 'eslint-plugin-security';
import tseslint from 'typescript-eslint';

/**
 * graphql-eslint on schema.graphql: its schema-recommended and relay configs, less what the contract settles
 * otherwise. Each rule turned off or narrowed says why; README, "Schema", says what was changed instead.
 */
export const graphqlSchemaRules = {
  ...graphql.configs['flat/schema-recommended'].rules,
  ...graphql.configs['flat/schema-relay'].rules,
  // The recommended config asks descriptions of types and root fields only; the playground's docs show every
  // field, argument and enum value, and README promises each is described (graphql-schema-linter checks it too).
  '@graphql-eslint/require-description': [
    'error',
    { types: true, rootField: true, FieldDefinition: true, InputValueDefinition: true, EnumValueDefinition: true, DirectiveDefinition: true },
  ],
  // Objects without identity of their own (a line, an address, a history entry, an error, an attempt, page info)
  // and the wrappers of a result have no id; everything with one (orders, endpoints, deliveries) is a Node.
  '@graphql-eslint/strict-id-in-types': [
    'error',
    {
      exceptions: {
        types: ['Address', 'OrderItem', 'StatusChange', 'UserError', 'WebhookAttempt', 'PageInfo'],
        suffixes: ['Payload', 'Connection', 'Edge'],
      },
    },
  ],
  // The contract names these fields (address, address2 of an address; an order's orderNumber), as REST does.
  '@graphql-eslint/no-typename-prefix': 'off',
  // Bounded lists (≤ 500 items, the status history, userErrors, ≤ 50 endpoints) are plain lists by contract;
  // only the unbounded ones (orders, deliveries) are connections, and their edges are still checked.
  '@graphql-eslint/relay-edge-types': ['error', { withEdgeSuffix: true, shouldImplementNode: true, listTypeCanWrapOnlyEdgeType: false }],
  // The Relay connection spec makes backward paging optional: deliveries page forward only (newest first);
  // orders has both (first/after and last/before).
  '@graphql-eslint/relay-arguments': ['error', { includeBoth: false }],
};

/** graphql-eslint on the operations the repository ships: its operations-recommended config. */
export const graphqlOperationRules = {
  ...graphql.configs['flat/operations-recommended'].rules,
};

/**
 * One graphql-config for every GraphQL file (graphql-eslint loads it once per process): each client's operations
 * are a project of their own, so operation names are unique within a client, not across clients.
 */
const graphQLConfig = {
  projects: {
    codegen: { schema: 'schema.graphql', documents: 'test/fixtures/codegen/**/*.graphql' },
    bench: { schema: 'schema.graphql', documents: 'bench/side-by-side/requests/*.graphql' },
    playground: { schema: 'schema.graphql', documents: 'src/playground/playground.page.ts' },
    default: { schema: 'schema.graphql' },
  },
};

const graphqlFiles = (files, rules) => ({
  files,
  languageOptions: { parser: graphql.parser, parserOptions: { graphQLConfig } },
  plugins: { '@graphql-eslint': graphql },
  rules,
});

const CODE = ['**/*.ts', '**/*.js', '**/*.cjs', '**/*.mjs', '**/*.mts'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'reports/', '.stryker-tmp/', 'data/', 'coverage/', 'test-results/', 'bench/results/', 'bench/side-by-side/*', '!bench/side-by-side/requests/'] },
  { files: CODE, ...js.configs.recommended },
  ...tseslint.configs.recommendedTypeChecked.map((config) => ({ files: CODE, ...config })),
  {
    files: CODE,
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // A promise nobody awaits must say so (`void`) and handle its own failure.
      '@typescript-eslint/no-floating-promises': 'error',
      // Fastify hooks, Apollo plugins and MikroORM migrations must be async whether or not they await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // eslint-plugin-security's recommended rules on the server's code (README, "Static security checks"). Each
    // finding it keeps is either fixed or disabled at its line with the reason.
    files: ['src/**/*.ts'],
    plugins: { security },
    rules: {
      // Errors, not the preset's warnings: `npm run lint` fails on a new finding, not only static-security.test.ts.
      ...Object.fromEntries(Object.keys(security.configs.recommended.rules).map((rule) => [rule, 'error'])),
      // Off: it flags every `object[key]` (70 places in src/, all triaged: constant tables, symbols, array
      // indexes, keys of the object itself). Keys from a JSON body or GraphQL input go through a Map or
      // defineProperty (shared/case.ts, mergeMetadata); test/unit/case.test.ts, test/http/fuzz.test.ts and
      // test/http/rest-read-update.test.ts send __proto__ keys.
      'security/detect-object-injection': 'off',
    },
  },
  {
    // Tests read response bodies, which are untyped JSON; the assertions are what check their shape.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Tests swap a service method for a fake and put the original back.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Configuration and plain JavaScript files are outside the TypeScript project.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs', '**/*.mts'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.js', 'test/fixtures/**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  graphqlFiles(['schema.graphql'], graphqlSchemaRules),
  // The operations the repository ships: a web app's (codegen), the benchmarks', the playground's first tab
  // (marked /* GraphQL */ in its source). README's are checked by test/outside/graphql-eslint.test.ts.
  { files: ['src/playground/playground.page.ts'], processor: graphql.processor },
  graphqlFiles(
    ['test/fixtures/codegen/**/*.graphql', 'bench/side-by-side/requests/*.graphql', 'src/playground/playground.page.ts/*.graphql'],
    graphqlOperationRules,
  ),
);
