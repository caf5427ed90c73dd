/**
 * Runs operations with graphql-jit instead of graphql-js's `execute`, behind
 * Apollo Server's executor interface (the `gateway` option: Apollo still
 * parses, validates, runs every plugin and formats errors; only execution is
 * replaced). graphql-js's `execute` walks the operation on every request:
 * in a profile of the createOrder mutation it took about 0.14 ms a request,
 * half of it collecting fields and coercing variables. graphql-jit compiles
 * each document once into a function that does only this operation's work.
 *
 * An operation that fails before anything runs (its variables do not coerce)
 * is answered by graphql-js, so that such a request keeps graphql-js's
 * messages, which Apollo recognises (a 400 with BAD_USER_INPUT). Nothing ran
 * in that case, so running it again cannot repeat a mutation.
 */
import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';
import {
  BREAK,
  type DocumentNode,
  execute,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  OperationTypeNode,
  printSchema,
  visit,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';

/**
 * Whether the document writes an input object, a list or a long number
 * inline. graphql-jit turns such literals into code and loses what the
 * scalars made of them: metadata's numbers that a double cannot hold came
 * back as strings (test/http/metadata-numbers.test.ts). graphql-js runs such
 * documents; clients send their inputs as variables, which graphql-jit
 * takes as they are.
 */
function hasStructuredLiterals(document: DocumentNode): boolean {
  let found = false;
  const stop = () => {
    found = true;
    return BREAK;
  };
  visit(document, {
    ObjectValue: stop,
    ListValue: stop,
    FloatValue: stop,
    IntValue: (node) => (node.value.length > 15 ? stop() : undefined),
  });
  return found;
}

/**
 * A field's error as graphql-js makes it. graphql-jit's errors are read-only
 * and have no `extensions` unless the thrown error had some; Apollo's error
 * handling and plugins (security/graphql-armor.ts) expect graphql-js's.
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  const copy = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions,
  });
  // graphql-jit knows where the field is in the document, not its AST node.
  (copy as { locations?: GraphQLError['locations'] }).locations = error.locations;
  return copy;
}

/**
 * Whether the operation is a mutation with more than one root field. GraphQL runs a document's
 * mutations one after another, and graphql-js stops at one whose error nulls the whole answer
 * (every mutation here answers a non-null payload); graphql-jit ran the later ones anyway, so an
 * order created after a failed one was committed while `data: null` hid it, and a client that sent
 * the document again created it twice (test/unit/jit-executor.test.ts). graphql-js runs such
 * documents; one mutation per document, which clients send, is compiled as before.
 */
function isSeveralMutations(document: DocumentNode, operationName: string | undefined): boolean {
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  const operation =
    operationName === undefined ? operations[0] : operations.find((definition) => definition.name?.value === operationName);
  if (operation?.operation !== OperationTypeNode.MUTATION) return false;
  const [only, ...rest] = operation.selectionSet.selections;
  return rest.length > 0 || only?.kind !== Kind.FIELD;
}

/** The most variable coercion errors one request makes: where graphql-js's execution stops. */
export const MAX_VARIABLE_ERRORS = 50;

/**
 * The most values (objects, lists and scalars, nested ones too) a request's variables may hold to
 * run on graphql-jit: a create of about 20 items. graphql-jit coerces every value and makes an
 * error, with its stack, for every wrong one, where graphql-js stops at MAX_VARIABLE_ERRORS: 20,000
 * wrong items (an 840 kB body) kept the event loop for seconds. Larger variables run on graphql-js,
 * which coerces them once, within its bound; variables this small make a few hundred errors at most.
 */
export const MAX_JIT_VARIABLE_VALUES = 100;

/** Whether `value` holds at most `budget` values, looking no further than that. */
export function holdsAtMost(value: unknown, budget: number): boolean {
  let left = budget;
  const walk = (node: unknown): boolean => {
    if (--left < 0) return false;
    if (node === null || typeof node !== 'object') return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) if (!walk(child)) return false;
    return true;
  };
  return walk(value);
}

const SEEN_ONCE = Symbol('seen once');
const MAX_OPERATIONS = 16;

export function jitExecution(schema: GraphQLSchema): GatewayInterface {
  // Apollo keeps each parsed document in its document store and hands the same object to every
  // request with that text, so the compiled forms live as long as the document does. A document is
  // compiled the second time it runs (Mercurius's `jit` option works the same way), so that
  // documents sent once, such as a flood of distinct ones, cost no compiling. At most
  // MAX_OPERATIONS names are remembered per document, whatever names a client sends.
  // `null`: the operation runs on graphql-js (see hasStructuredLiterals, isSeveralMutations), or does not compile, in
  // which case graphql-js answers with its own errors (an unknown operation name, say).
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null | typeof SEEN_ONCE>>();

  const compile = (document: DocumentNode, operationName: string | undefined): CompiledQuery | null => {
    let byOperation = compiled.get(document);
    if (!byOperation) {
      byOperation = new Map<string, CompiledQuery | null | typeof SEEN_ONCE>();
      compiled.set(document, byOperation);
    }
    const key = operationName ?? '';
    const entry = byOperation.get(key);
    if (entry === undefined) {
      if (byOperation.size < MAX_OPERATIONS) byOperation.set(key, SEEN_ONCE);
      return null;
    }
    if (entry !== SEEN_ONCE) return entry;
    const query =
      hasStructuredLiterals(document) || isSeveralMutations(document, operationName)
        ? null
        : compileQuery(schema, document, operationName);
    const compiledQuery = query && isCompiledQuery(query) ? query : null;
    byOperation.set(key, compiledQuery);
    return compiledQuery;
  };

  const executor: GatewayExecutor = async ({ document, request, context }) => {
    // The name the client sent: Apollo's resolved `operationName` is null when no operation has that name.
    const operationName = request.operationName ?? undefined;
    const variables = request.variables ?? {};
    const query = holdsAtMost(variables, MAX_JIT_VARIABLE_VALUES) ? compile(document, operationName) : null;
    if (query) {
      const result = await query.query(undefined, context, variables);
      if (result.data !== undefined || !result.errors?.length)
        return result.errors ? { ...result, errors: result.errors.map(asGraphQLJsError) } : result;
    }
    // graphql-js's turn: not compiled, or refused before anything ran.
    return execute({
      schema,
      document,
      contextValue: context,
      variableValues: variables,
      operationName,
    });
  };

  return {
    load: () => Promise.resolve({ executor }),
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => {};
    },
    stop: () => Promise.resolve(),
  };
}
