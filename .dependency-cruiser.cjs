/**
 * The layout's rules, checked by dependency-cruiser (test/outside/architecture-rules.test.ts runs them):
 * a request goes transport (src/graphql, src/rest) → service → repository → database, and each folder
 * has one job (README, "Architecture"). An exception is written into its rule with the reason.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle of modules that load each other at run time. Cycles made only of `import type` are allowed: they ' +
        'vanish when compiled. MikroORM wants them (an entity names its repository class, the repository the entity ' +
        'type), and so do order-filter/order-cursor and database/database-errors. The benchmark harness (bench/, ' +
        'never shipped or run by the suite) is left out: its helpers load each other.',
      from: { pathNot: '^bench/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'transports-not-to-persistence',
      severity: 'error',
      comment:
        'Resolvers and routes reach orders, keys and webhooks through the services only: no entity, repository, ' +
        'src/db module or database driver (the service owns the transaction and the rules).',
      from: { path: '^src/(graphql|rest)/' },
      to: {
        path: [
          '^src/db/',
          '[.]entity[.]ts$',
          '[.]repository[^/]*[.]ts$',
          '[.]store[.]ts$',
          '(^|/)node_modules/(@mikro-orm|mikro-orm-pglite|@electric-sql/pglite|pg)/',
        ],
      },
    },
    {
      name: 'domain-not-to-transports',
      severity: 'error',
      comment:
        'Dependencies point inwards: the domain folders know neither GraphQL, REST, the composition root nor the CLI. ' +
        'One exception: src/events builds each event\'s `data.order` with the REST presenter, because the events ' +
        'contract defines it as "the REST order, exactly as GET /api/orders/:id would return it" (one function, so ' +
        'the two can never differ).',
      from: { path: '^src/(orders|auth|webhooks|events|errors|db|shared|config)/' },
      to: {
        path: '^src/(graphql|rest|app|cli)/',
        pathNot: '^src/rest/order[.]presenter[.]ts$',
      },
    },
    {
      name: 'rest-presenter-only-for-events',
      severity: 'error',
      comment: 'The exception above is for src/events alone.',
      from: { path: '^src/(orders|auth|webhooks|errors|db|shared|config)/' },
      to: { path: '^src/rest/order[.]presenter[.]ts$' },
    },
    {
      name: 'config-imports-nothing-else',
      severity: 'error',
      comment: 'src/config is the typed environment: it imports nothing else from src/.',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
    {
      name: 'src-not-to-tests',
      severity: 'error',
      comment: 'The service never loads test, benchmark or script code.',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'nothing-outside-the-repository',
      severity: 'error',
      comment: 'Nothing reads the review\'s shared folder (../shared/) or any file outside the clone: fixtures are copied into test/fixtures.',
      from: {},
      to: { path: '^[.][.]/' },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A module of src/ nobody imports is dead code; the entry points and declaration files are not orphans.',
      from: { orphan: true, path: '^src/', pathNot: ['[.]d[.]ts$', '^src/main[.]ts$', '^src/cli/cli[.]ts$'] },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing: a package that is not installed, or a file that moved.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^dist/', '^test/fixtures/(relay|codegen|leaks)/', '^bench/side-by-side/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
