/**
 * Limits on what one GraphQL document may ask for, checked before anything
 * runs: GraphQL Armor's depth, alias, directive and cost rules run during
 * validation, and graphql-js's own `maxTokens` stops the parser early (Armor's
 * token plugin would parse every document a second time, and its failure
 * reaches Apollo as an unexpected error). A rejected document never reaches a
 * resolver, so it costs no database work.
 *
 * Every rejection is a top-level error with `extensions.code =
 * "QUERY_LIMIT_EXCEEDED"` and `extensions.limit` naming the limit (`depth`,
 * `aliases`, `directives`, `tokens` or `cost`), with HTTP status 400.
 *
 * When introspection is off, "Did you mean …?" suggestions are stripped from
 * every error message too: they would describe the schema piece by piece.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type ParseOptions, type ValidationRule } from 'graphql';

type ArmorConfig = NonNullable<ConstructorParameters<typeof ApolloArmor>[0]>;
type RejectCallback = NonNullable<NonNullable<ArmorConfig['maxDepth']>['onReject']>[number];

export const QUERY_LIMIT_EXCEEDED = 'QUERY_LIMIT_EXCEEDED';

export type QueryLimit = 'depth' | 'aliases' | 'directives' | 'tokens' | 'cost';

export interface GraphQLLimits {
  /** Deepest field nesting; fragments do not add a level. */
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Lexical tokens in the document (variables are not part of it). */
  maxTokens: number;
  /** GraphQL Armor's static cost: 2 per object, 1 per scalar, ×1.5 per level, × a literal `first`. */
  maxCost: number;
  /** When false, suggestions are stripped from error messages. */
  introspection: boolean;
}

export interface GraphQLProtection {
  validationRules: ValidationRule[];
  parseOptions: ParseOptions;
  plugins: ApolloServerPlugin[];
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

/** Reports Armor's rejection as our error, so the limit is named and the code is stable. */
function rejectAs(limit: QueryLimit): RejectCallback {
  return (context, error) => {
    context?.reportError(
      new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: QUERY_LIMIT_EXCEEDED, limit } }),
    );
  };
}

/**
 * Apollo wraps validation and parse errors in its own codes; this puts ours
 * back before they are formatted (and strips suggestions when asked).
 */
function limitErrorsPlugin(hideSuggestions: boolean): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            const extensions = error.extensions as Record<string, unknown>;
            const tokens = TOKEN_LIMIT.exec(error.message);
            if (tokens) {
              error.message = `Token limit of ${tokens[1]} exceeded.`;
              extensions.limit = 'tokens';
            }
            if (extensions.limit !== undefined) extensions.code = QUERY_LIMIT_EXCEEDED;
            if (TOO_MANY_VARIABLE_ERRORS.test(error.message) && extensions.code === undefined) extensions.code = 'BAD_USER_INPUT';
            if (hideSuggestions) error.message = error.message.replace(SUGGESTION, '');
          }
        },
      };
    },
  };
}

export function graphqlProtection(limits: GraphQLLimits): GraphQLProtection {
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, flattenFragments: true, propagateOnRejection: false, onReject: [rejectAs('depth')] },
    maxAliases: { n: limits.maxAliases, propagateOnRejection: false, onReject: [rejectAs('aliases')] },
    maxDirectives: { n: limits.maxDirectives, propagateOnRejection: false, onReject: [rejectAs('directives')] },
    costLimit: { maxCost: limits.maxCost, flattenFragments: true, propagateOnRejection: false, onReject: [rejectAs('cost')] },
    // graphql-js counts tokens in its own parser instead; see above.
    maxTokens: { enabled: false },
    // Its pattern misses enum value suggestions; the plugin below strips every form.
    blockFieldSuggestion: { enabled: false },
  }).protect();
  return {
    validationRules: armor.validationRules,
    parseOptions: { maxTokens: limits.maxTokens },
    plugins: [...armor.plugins, limitErrorsPlugin(!limits.introspection)],
  };
}
