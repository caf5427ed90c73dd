import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { MAX_AMOUNT_LENGTH } from '../orders/money';
import { isExactNumber, parseNumberLiteral } from '../shared/exact-json';

/**
 * A number literal in the document longer than this is refused before anything parses it as a
 * number, as the REST body parser refuses one (INVALID_JSON). A decimal string is not checked
 * here: it goes to the service, which refuses one over the same length as a VALIDATION_ERROR
 * naming its field (a userError), on REST and GraphQL alike, before reading its digits.
 */
function bounded(value: string, ast: ValueNode): string {
  if (value.length > MAX_AMOUNT_LENGTH) {
    throw new GraphQLError(`Decimal must be at most ${MAX_AMOUNT_LENGTH} characters`, { nodes: ast });
  }
  return value;
}

/** A `Decimal` input as the service reads an amount: a decimal string, or a number. */
export type DecimalInput = string | number;

/**
 * Money. Output is the service's decimal string with exactly the currency's
 * digits (`"227.00"`), so no client ever sees a float. Input takes a string
 * (`"99.00"`, exact) or a number, written in the document or in the
 * variables; the service checks digits and range, as for REST.
 */
export const DecimalScalar = new GraphQLScalarType<DecimalInput, string>({
  name: 'Decimal',
  description:
    'An exact decimal amount, serialised as a string with exactly the currency’s ISO 4217 minor-unit digits, ' +
    'e.g. "227.00". Input: a string (exact; recommended) of digits with an optional point and fraction, ' +
    'such as "99.00" or "99", or a number. Of XML Schema’s decimal forms, a sign and a point without a digit ' +
    'on each side are refused: "+10.00", ".5" and "10." are validation errors.',
  // The lexical form is XML Schema's decimal (digits, an optional point and fraction), without a sign or exponent.
  specifiedByURL: 'https://www.w3.org/TR/xmlschema11-2/#decimal',
  serialize(value) {
    if (typeof value !== 'string') throw new GraphQLError('Decimal values are serialised from strings');
    return value;
  },
  parseValue(value) {
    if (typeof value === 'string') return value;
    // A variable's number a double cannot hold, as written (see shared/exact-json.ts): its digits are checked like a string's.
    // (The body parser has refused number literals over MAX_AMOUNT_LENGTH already.)
    if (isExactNumber(value)) return value.toString();
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    throw new GraphQLError('Decimal must be a string such as "99.00" or a number');
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING) return ast.value;
    if (ast.kind === Kind.INT || ast.kind === Kind.FLOAT) {
      // The value the same literal has in the variables or a REST body, so that `1e2` is 100 and
      // `1e-7` has too many decimals either way; one a double cannot hold goes on as its text, as
      // the service reads it from JSON (`prepareExactNumbers`).
      const value = parseNumberLiteral(bounded(ast.value, ast));
      return isExactNumber(value) ? ast.value : value;
    }
    throw new GraphQLError('Decimal must be a string such as "99.00" or a number', { nodes: ast });
  },
});

/**
 * graphql-scalars' DateTime (RFC 3339 date-times, written at UTC with
 * milliseconds), with the `@specifiedBy` it lacks: the GraphQL scalars
 * project's DateTime specification.
 */
export const DateTimeScalar = new GraphQLScalarType({
  ...DateTimeResolver.toConfig(),
  specifiedByURL: 'https://scalars.graphql.org/andimarek/date-time',
});

/** A JSON literal in a document; numbers a double cannot hold stay exact (graphql-scalars would `parseFloat` them). */
function parseJsonLiteral(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return parseNumberLiteral(ast.value);
    case Kind.OBJECT:
      // fromEntries: a field named `__proto__` stays an own key.
      return Object.fromEntries(ast.fields.map((field) => [field.name.value, parseJsonLiteral(field.value, variables)]));
    case Kind.LIST:
      return ast.values.map((value) => parseJsonLiteral(value, variables));
    case Kind.NULL:
      return null;
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw new GraphQLError('JSON cannot represent this value', { nodes: ast });
  }
}

/**
 * graphql-scalars' JSON, with numbers kept exactly: `12345678901234567890` in
 * a literal or a variable comes back as that number, not `12345678901234567000`
 * (variables are parsed by the body parser, answers written by `stringifyJson`).
 */
export const JsonScalar = new GraphQLScalarType({
  ...JSONResolver.toConfig(),
  parseLiteral: parseJsonLiteral,
});
