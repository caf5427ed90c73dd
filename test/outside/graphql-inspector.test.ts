/**
 * GraphQL Inspector, as a frontend team runs it on its side:
 *
 * - `validate`: the web app's documents (test/fixtures/codegen/operations.graphql) are valid
 *   against the committed schema.graphql, use nothing deprecated, and stay inside the server's
 *   default depth, alias and token limits (README, "Security and limits").
 * - `diff`: the schema the resolvers generate against the committed schema.graphql, as a
 *   breaking-change report. A breaking change (a field, type or enum value removed, an argument
 *   or input field made required, a type changed) fails with Inspector's own message for each;
 *   the decision (README, "Changing the schema"): there is no acknowledgement file, the
 *   acknowledgement is regenerating schema.graphql (`npm run schema`) in a commit that says it
 *   breaks clients. Safe and dangerous changes are left to the drift test (test/unit/schema.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Change, CriticalityLevel, diff, validate } from '@graphql-inspector/core';
import { buildClientSchema, buildSchema, getIntrospectionQuery, type GraphQLSchema, Source } from 'graphql';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { buildGraphQLSchema, printSchemaSDL } from '../../src/graphql/schema';

const ROOT = path.resolve(__dirname, '../..');
const COMMITTED_SDL = fs.readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8');
const committed = buildSchema(COMMITTED_SDL);
const t = useTestApp();

/**
 * The breaking changes from `before` to `after`, one line each. Both sides are compared as SDL:
 * a schema built in code keeps enum defaults as internal values and `@specifiedBy` outside its
 * AST, which Inspector would report as changes no client can see.
 */
async function breakingChanges(before: GraphQLSchema, after: GraphQLSchema): Promise<string[]> {
  const asSdl = (schema: GraphQLSchema) => buildSchema(printSchemaSDL(schema));
  const changes: Change[] = await diff(asSdl(before), asSdl(after));
  return changes
    .filter((change) => change.criticality.level === CriticalityLevel.Breaking)
    .map((change) => `${change.path ?? change.type}: ${change.message}`);
}

describe('GraphQL Inspector validate', () => {
  it('the web app documents are valid, use nothing deprecated, and fit the default depth, alias and token limits', () => {
    const source = new Source(
      fs.readFileSync(path.join(ROOT, 'test/fixtures/codegen/operations.graphql'), 'utf8'),
      'operations.graphql',
    );
    const invalid = validate(committed, [source], {
      strictDeprecated: true,
      maxDepth: 8,
      maxAliasCount: 15,
      maxTokenCount: 2000,
    });
    expect(
      invalid.flatMap((document) =>
        [...document.errors, ...document.deprecated].map((error) => error.message),
      ),
    ).toStrictEqual([]);
  });

  it('flags a document that uses a field the schema does not have', () => {
    const [invalid] = validate(committed, [
      new Source('query { order(id: "x") { id discount } }', 'bad.graphql'),
    ]);
    expect(invalid?.errors.map((error) => error.message)).toStrictEqual([
      'Cannot query field "discount" on type "Order".',
    ]);
  });
});

describe('GraphQL Inspector diff: breaking changes between the resolvers and schema.graphql', () => {
  it('the schema the resolvers generate breaks nothing a client of schema.graphql uses', async () => {
    const breaking = await breakingChanges(committed, await buildGraphQLSchema());
    expect(
      breaking,
      `the resolvers' schema breaks clients of schema.graphql:\n${breaking.join('\n')}\n` +
        'If that is intended, run `npm run schema` and say in the commit that it breaks clients.',
    ).toStrictEqual([]);
  });

  it('reports a removed field and an argument made required, each with a clear message', async () => {
    const changed = COMMITTED_SDL.replace(
      '  """Free text from the customer or staff"""\n  notes: String\n\n',
      '',
    ).replace('previousSecretValidForSeconds: Int\n', 'previousSecretValidForSeconds: Int!\n');
    expect(changed).not.toBe(COMMITTED_SDL);
    expect(await breakingChanges(committed, buildSchema(changed))).toStrictEqual([
      "Mutation.rotateWebhookSecret.previousSecretValidForSeconds: Type for argument 'previousSecretValidForSeconds' on field 'Mutation.rotateWebhookSecret' changed from 'Int' to 'Int!'",
      "Order.notes: Field 'notes' was removed from object type 'Order'",
    ]);
  });

  it('a new optional field is not breaking', async () => {
    const added = COMMITTED_SDL.replace(
      '  notes: String\n',
      '  notes: String\n\n  """Gift message"""\n  giftMessage: String\n',
    );
    expect(await breakingChanges(committed, buildSchema(added))).toStrictEqual([]);
  });
});

describe('GraphQL Inspector diff: the live server against schema.graphql', () => {
  it('introspecting the server, as a client that generates its types from a URL does, gives schema.graphql: no change at all', async () => {
    const res = await t.gql(
      getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        inputValueDeprecation: true,
      }),
    );
    expect(res.statusCode, res.body).toBe(200);
    const live = buildClientSchema(res.json().data);
    const changes = await diff(committed, buildSchema(printSchemaSDL(live)));
    expect(changes.map((change) => `${change.criticality.level} ${change.message}`)).toStrictEqual([]);
  });
});
