// Writes the SDL the resolvers generate to stdout: `npm run schema` saves it as schema.graphql.
import { buildGraphQLSchema, printSchemaSDL } from '../src/graphql/schema';

void buildGraphQLSchema().then((schema) => process.stdout.write(printSchemaSDL(schema)));
