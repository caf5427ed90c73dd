/**
 * Limits on what one GraphQL document may ask for, checked before anything
 * runs: GraphQL Armor's depth, alias and directive rules run during
 * validation, graphql-js's own `maxTokens` stops the parser early (Armor's
 * token plugin would parse every document a second time, and its failure
 * reaches Apollo as an unexpected error), and the cost is computed with
 * graphql-query-complexity once the operation and its variables are known
 * (a validation rule cannot see variables, so `first: $n` would count as the
 * default page). A rejected document never reaches a resolver, so it costs no
 * database work.
 *
 * The cost is an upper bound on the values an answer can hold: 1 per field,
 * every list at its largest (a page at `first`, an order's items at 500;
 * see `graphql/cost.ts`).
 *
 * Every rejection is a top-level error with `extensions.code =
 * "QUERY_LIMIT_EXCEEDED"` and `extensions.limit` naming the limit (`depth`,
 * `aliases`, `directives`, `tokens`, `cost` or, for an answer too large to
 * send, `responseSize`), with HTTP status 400.
 *
 * When introspection is off, "Did you mean …?" suggestions are stripped from
 * every error message too: they would describe the schema piece by piece.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Config } from '../config/config';
import type { GraphQLRequestHooks, RequestHooks } from '../graphql/request-hooks';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  type DocumentNode,
  type GraphQLSchema,
  getVariableValues,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type ParseOptions,
  type TypeNode,
  type ValidationRule,
} from 'graphql';
import { MAX_VARIABLE_ERRORS } from '../graphql/jit-executor';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';

type ArmorConfig = NonNullable<ConstructorParameters<typeof ApolloArmor>[0]>;
type RejectCallback = NonNullable<NonNullable<ArmorConfig['maxDepth']>['onReject']>[number];

export const QUERY_LIMIT_EXCEEDED = 'QUERY_LIMIT_EXCEEDED';

export type QueryLimit = 'depth' | 'aliases' | 'directives' | 'tokens' | 'cost' | 'responseSize';

export interface GraphQLLimits {
  /** Deepest field nesting; fragments do not add a level. */
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Lexical tokens in the document (variables are not part of it). */
  maxTokens: number;
  /** The most values an answer may hold: 1 per field, lists at their largest (see `graphql/cost.ts`). */
  maxCost: number;
  /** When false, suggestions are stripped from error messages. */
  introspection: boolean;
}

export interface GraphQLProtection {
  validationRules: ValidationRule[];
  parseOptions: ParseOptions;
  /** GraphQL Armor's own plugins (none with the limits set here). */
  plugins: ApolloServerPlugin[];
  /** The cost limit and the rewriting of limit errors (see graphql/request-hooks.ts). */
  requestHooks: GraphQLRequestHooks<BaseContext>[];
  /** The cost limit itself, for what does not go through Apollo (subscriptions over WebSocket). */
  checkCost: CostCheck;
}

/** graphql-js's message when `maxTokens` stops the parser (16.x spells it "more that"). */
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] (\d+) tokens\. Parsing aborted\.$/;
/**
 * graphql-js stops coercing variables after 50 errors and adds this error,
 * which carries no code; Apollo would make it an internal error.
 */
const TOO_MANY_VARIABLE_ERRORS = /^Too many errors processing variables/;
/** Field, argument, type and enum value suggestions, in every form graphql-js writes them. */
const SUGGESTION = / ?Did you mean [^?]*\?/g;

/** A graphql-js message without its "Did you mean …?" suggestions (used while introspection is off). */
export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION, '');
}

/** Reports Armor's rejection as our error, so the limit is named and the code is stable. */
function rejectAs(limit: QueryLimit): RejectCallback {
  return (context, error) => {
    context?.reportError(
      new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
        extensions: { code: QUERY_LIMIT_EXCEEDED, limit },
      }),
    );
  };
}

/**
 * Apollo wraps validation and parse errors in its own codes; this puts ours
 * back before they are formatted (and strips suggestions when asked).
 */
function limitErrors(hideSuggestions: boolean): GraphQLRequestHooks<BaseContext> {
  const hooks: RequestHooks<BaseContext> = {
    didEncounterErrors({ errors }) {
      for (const error of errors) {
        const extensions = error.extensions as Record<string, unknown>;
        const tokens = TOKEN_LIMIT.exec(error.message);
        if (tokens) {
          error.message = `Token limit of ${tokens[1]} exceeded.`;
          extensions.limit = 'tokens';
        }
        if (extensions.limit !== undefined) extensions.code = QUERY_LIMIT_EXCEEDED;
        if (TOO_MANY_VARIABLE_ERRORS.test(error.message) && extensions.code === undefined)
          extensions.code = 'BAD_USER_INPUT';
        if (hideSuggestions) error.message = withoutSuggestions(error.message);
      }
    },
  };
  return () => hooks;
}

/**
 * The variables a cost can depend on: the Int and Boolean ones (page sizes, `@include`/`@skip`).
 * Cost functions read no other kind of argument (see `graphql/cost.ts`), so a mutation's input
 * object never changes what its document costs.
 */
function costVariables(operation: OperationDefinitionNode | undefined): string[] {
  const names: string[] = [];
  for (const definition of operation?.variableDefinitions ?? []) {
    let type: TypeNode = definition.type;
    while (type.kind !== Kind.NAMED_TYPE) type = type.type;
    if (type.name.value === 'Int' || type.name.value === 'Boolean')
      names.push(definition.variable.name.value);
  }
  return names;
}

/**
 * The most selections graphql-query-complexity walks, fragments expanded (its own default):
 * fragments spreading fragments twice over double at every level, so the walk is what needs the
 * bound; a 2,000-token document without such reuse has far fewer.
 */
const MAX_COST_NODES = 10_000;
/** graphql-query-complexity's error when it stops at `maxQueryNodes`. */
const TOO_MANY_NODES = /^Query exceeds the maximum allowed number of nodes\.$/;

/** How many allowed variable combinations one document remembers (page sizes, in practice). */
const ALLOWED_PER_DOCUMENT = 64;

/** What `CostCheck` needs of a request: its document, the operation to run, and its variables. */
export interface CostedOperation {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode | undefined;
  operationName: string | null | undefined;
  variables: Record<string, unknown> | undefined;
}

/** The refusal of an operation past the cost limit, or undefined when it may run. */
export type CostCheck = (request: CostedOperation) => GraphQLError | undefined;

const costRefusal = (message: string) =>
  new GraphQLError(message, {
    extensions: {
      code: QUERY_LIMIT_EXCEEDED,
      limit: 'cost' satisfies QueryLimit,
      http: { status: 400 },
    },
  });

/**
 * Computes the operation's cost with its variables, and refuses it past the
 * limit. A document that was allowed with the same cost-bearing variables is
 * allowed again without recomputing: Apollo keeps one parsed document per query
 * text, and computing the cost coerced every variable and walked the whole
 * document on every request (0.19 ms of a 2 ms `createOrder`).
 * Over HTTP through `costLimit`; subscriptions over WebSocket call it themselves.
 */
function costCheck(maxCost: number): CostCheck {
  const estimators = [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })];
  const allowed = new WeakMap<DocumentNode, Set<string>>();
  return ({ schema, document, operation, operationName, variables: given }) => {
    const variables: Record<string, unknown> = given ?? {};
    const key = `${operationName ?? ''}\u0000${JSON.stringify(costVariables(operation).map((name) => variables[name]))}`;
    const known = allowed.get(document);
    if (known?.has(key)) return undefined;
    // Variables that do not fit their types: execution reports them as BAD_USER_INPUT, at most
    // MAX_VARIABLE_ERRORS of them. graphql-query-complexity coerces them with no such bound, so a
    // list of 20,000 wrong items made 60,000 errors, each with its stack (15 s of one CPU for an
    // 840 kB body); coerced here first, it stops where graphql-js's execution does.
    if (getVariableValues(schema, operation?.variableDefinitions ?? [], variables, { maxErrors: MAX_VARIABLE_ERRORS }).errors)
      return undefined;
    let cost: number;
    try {
      cost = getComplexity({
        schema,
        query: document,
        variables,
        operationName: operationName ?? undefined,
        estimators,
        maxQueryNodes: MAX_COST_NODES,
      });
    } catch (error) {
      // A document that expands (fragments spread within fragments) past graphql-query-complexity's
      // node limit has no cost computed: it is refused, not let through unpriced.
      if (error instanceof GraphQLError && TOO_MANY_NODES.test(error.message))
        return costRefusal(`Query cost limit of ${maxCost} exceeded: the document expands to more than ${MAX_COST_NODES} selections.`);
      // Variables that do not fit their types: execution reports them as BAD_USER_INPUT.
      if (error instanceof GraphQLError) return undefined;
      throw error;
    }
    if (cost <= maxCost) {
      if (!known) allowed.set(document, new Set([key]));
      else if (known.size < ALLOWED_PER_DOCUMENT) known.add(key);
      return undefined;
    }
    return costRefusal(`Query cost limit of ${maxCost} exceeded, found ${cost}.`);
  };
}

/** The cost limit over HTTP: Apollo's request, once its operation is known. */
function costLimit(check: CostCheck): GraphQLRequestHooks<BaseContext> {
  const hooks: RequestHooks<BaseContext> = {
    didResolveOperation({ request, document, schema, operationName, operation }) {
      const refused = check({ schema, document, operation, operationName, variables: request.variables });
      if (refused) throw refused;
    },
  };
  return () => hooks;
}

/**
 * The limits of a configuration (GRAPHQL_MAX_*, INTROSPECTION): what the server runs with, and
 * what a test builds its in-process server with (`graphqlLimits(loadConfig({}))`: the defaults).
 */
export function graphqlLimits(
  config: Pick<
    Config,
    'graphqlMaxDepth' | 'graphqlMaxAliases' | 'graphqlMaxDirectives' | 'graphqlMaxTokens' | 'graphqlMaxCost' | 'introspection'
  >,
): GraphQLLimits {
  return {
    maxDepth: config.graphqlMaxDepth,
    maxAliases: config.graphqlMaxAliases,
    maxDirectives: config.graphqlMaxDirectives,
    maxTokens: config.graphqlMaxTokens,
    maxCost: config.graphqlMaxCost,
    introspection: config.introspection,
  };
}

export function graphqlProtection(limits: GraphQLLimits): GraphQLProtection {
  const checkCost = costCheck(limits.maxCost);
  const armor = new ApolloArmor({
    maxDepth: {
      n: limits.maxDepth,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [rejectAs('depth')],
    },
    maxAliases: {
      n: limits.maxAliases,
      // Armor's default leaves aliases of `__typename` uncounted: hundreds of `a: __typename` then
      // passed, each pair of them compared by graphql-js's validation (tens of ms a request).
      allowList: [],
      propagateOnRejection: false,
      onReject: [rejectAs('aliases')],
    },
    maxDirectives: {
      n: limits.maxDirectives,
      propagateOnRejection: false,
      onReject: [rejectAs('directives')],
    },
    // Computed with the variables instead; see costLimit.
    costLimit: { enabled: false },
    // graphql-js counts tokens in its own parser instead; see above.
    maxTokens: { enabled: false },
    // Its pattern misses enum value suggestions; limitErrors strips every form.
    blockFieldSuggestion: { enabled: false },
  }).protect();
  return {
    validationRules: armor.validationRules,
    parseOptions: { maxTokens: limits.maxTokens },
    plugins: armor.plugins,
    requestHooks: [costLimit(checkCost), limitErrors(!limits.introspection)],
    checkCost,
  };
}
