import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { buildGraphQLSchema, printSchemaSDL } from '../../src/graphql/schema';

it('schema.graphql is exactly what the resolvers generate (run `npm run schema` after changing them)', async () => {
  const committed = fs.readFileSync(path.resolve(__dirname, '../../schema.graphql'), 'utf8');
  expect(printSchemaSDL(await buildGraphQLSchema())).toBe(committed);
});
