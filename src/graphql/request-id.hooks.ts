/**
 * Puts the request id on every INTERNAL_ERROR a GraphQL response carries, so
 * a caller can quote it and the log line with the full error can be found.
 * (`formatError` cannot do it: Apollo does not hand it the request.)
 */
import { ErrorCode } from '../errors/app-error';
import type { GraphQLContext } from './context';
import type { GraphQLRequestHooks, RequestHooks } from './request-hooks';

const hooks: RequestHooks<GraphQLContext> = {
  willSendResponse({ response, contextValue }) {
    if (response.body.kind !== 'single' || !contextValue.requestId) return;
    const { singleResult } = response.body;
    if (!singleResult.errors?.some((error) => error.extensions?.code === ErrorCode.INTERNAL_ERROR)) return;
    const requestId = contextValue.requestId;
    singleResult.errors = singleResult.errors.map((error) =>
      error.extensions?.code === ErrorCode.INTERNAL_ERROR
        ? { ...error, extensions: { ...error.extensions, requestId } }
        : error,
    );
  },
};

export function requestIdOnInternalErrors(): GraphQLRequestHooks<GraphQLContext> {
  return () => hooks;
}
