/**
 * Our features' hooks into Apollo's request pipeline, run by one Apollo plugin.
 *
 * Apollo calls every plugin's `requestDidStart` on every request and then, at
 * every stage, every listener it returned, awaiting each one (one promise per
 * listener per stage, and for `responseForOperation` one await after another).
 * Six plugins of ours cost a GraphQL create about 14 promises each, a third of
 * all the promises it made, and none of them does anything asynchronous. So a
 * feature (telemetry, the query limits, the status mapping …) gives plain
 * synchronous hooks here, and `requestHooksPlugin` hands all of them to Apollo
 * as one plugin with one listener.
 *
 * Each stage runs the features' hooks in the order given, as Apollo would run
 * the plugins: every hook runs even when an earlier one throws, and the stage
 * then fails with the first error (Apollo answers it as it would a plugin's).
 */
import type {
  ApolloServerPlugin,
  BaseContext,
  GraphQLRequestContext,
  GraphQLRequestContextDidEncounterErrors,
  GraphQLRequestContextDidResolveOperation,
  GraphQLRequestContextWillSendResponse,
  GraphQLRequestListener,
} from '@apollo/server';

/** What a feature does at the stages of one request. */
export interface RequestHooks<TContext extends BaseContext> {
  /** The operation is known, before it runs; throwing refuses it. */
  didResolveOperation?: (requestContext: GraphQLRequestContextDidResolveOperation<TContext>) => void;
  /** The request failed as a whole (parse, validation, refusal) or its operation reported errors. */
  didEncounterErrors?: (requestContext: GraphQLRequestContextDidEncounterErrors<TContext>) => void;
  /** The response is about to be written; it may still be changed. */
  willSendResponse?: (requestContext: GraphQLRequestContextWillSendResponse<TContext>) => void;
}

/**
 * A feature: called when a request starts, it returns the hooks for that
 * request, or nothing when it has nothing to do. A feature that keeps no
 * state per request returns the same object every time.
 */
export type GraphQLRequestHooks<TContext extends BaseContext> = (
  requestContext: GraphQLRequestContext<TContext>,
) => RequestHooks<TContext> | undefined;

const DONE: Promise<void> = Promise.resolve();

/** One stage's hooks, in order; all run, and the stage fails with the first error thrown. */
function runStage<TContext extends BaseContext>(
  started: readonly RequestHooks<TContext>[],
  call: (hooks: RequestHooks<TContext>) => void,
): Promise<void> {
  let failure: Error | undefined;
  for (const hooks of started) {
    try {
      call(hooks);
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error));
    }
  }
  return failure ? Promise.reject(failure) : DONE;
}

/** The features as one Apollo plugin, whose listener has only the stages some feature uses. */
export function requestHooksPlugin<TContext extends BaseContext>(
  features: readonly GraphQLRequestHooks<TContext>[],
): ApolloServerPlugin<TContext> {
  return {
    requestDidStart(requestContext) {
      const started: RequestHooks<TContext>[] = [];
      for (const feature of features) {
        const hooks = feature(requestContext);
        if (hooks) started.push(hooks);
      }
      const listener: GraphQLRequestListener<TContext> = {};
      if (started.some((hooks) => hooks.didResolveOperation))
        listener.didResolveOperation = (context) =>
          runStage(started, (hooks) => hooks.didResolveOperation?.(context));
      if (started.some((hooks) => hooks.didEncounterErrors))
        listener.didEncounterErrors = (context) =>
          runStage(started, (hooks) => hooks.didEncounterErrors?.(context));
      if (started.some((hooks) => hooks.willSendResponse))
        listener.willSendResponse = (context) =>
          runStage(started, (hooks) => hooks.willSendResponse?.(context));
      return Promise.resolve(listener);
    },
  };
}
