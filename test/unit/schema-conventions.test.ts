/**
 * The schema as outside tools see it (issue 10, point 7): graphql-schema-linter
 * with its default rules (all of them) finds nothing, `UserError.code` is an
 * enum, and the custom scalars say where they are specified.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { GraphQLEnumType, GraphQLNonNull, type GraphQLObjectType, type GraphQLScalarType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildGraphQLSchema } from '../../src/graphql/schema';

const root = path.resolve(__dirname, '../..');

describe('schema.graphql', () => {
  it('passes graphql-schema-linter with its default rules', async () => {
    const bin = path.join(root, 'node_modules/.bin/graphql-schema-linter');
    const { stdout } = await promisify(execFile)(bin, ['--format', 'json', 'schema.graphql'], {
      cwd: root,
    }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    const report = JSON.parse(stdout) as { errors: { message: string; rule: string }[] };
    expect(report.errors.map((error) => `${error.rule}: ${error.message}`)).toStrictEqual([]);
  });

  it('UserError.code is an enum of the codes a mutation can refuse with', async () => {
    const schema = await buildGraphQLSchema();
    const code = (schema.getType('UserError') as GraphQLObjectType).getFields().code.type;
    expect(code).toBeInstanceOf(GraphQLNonNull);
    const codeEnum = (code as GraphQLNonNull<GraphQLEnumType>).ofType;
    expect(codeEnum.name).toBe('UserErrorCode');
    expect(
      codeEnum
        .getValues()
        .map((value) => value.name)
        .sort(),
    ).toStrictEqual([
      'IDEMPOTENCY_KEY_REUSED',
      'IDEMPOTENCY_REQUEST_IN_PROGRESS',
      'INVALID_STATUS_TRANSITION',
      'NOT_FOUND',
      'PRECONDITION_FAILED',
      'TOTAL_MISMATCH',
      'VALIDATION_ERROR',
    ]);
  });

  it('Decimal and DateTime carry @specifiedBy', async () => {
    const schema = await buildGraphQLSchema();
    expect((schema.getType('Decimal') as GraphQLScalarType).specifiedByURL).toMatch(/^https:\/\//);
    expect((schema.getType('DateTime') as GraphQLScalarType).specifiedByURL).toMatch(/^https:\/\//);
  });
});
