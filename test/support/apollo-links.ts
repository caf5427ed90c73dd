/**
 * Apollo Client's usual link for a front end with subscriptions, as its docs
 * build it: subscriptions over graphql-ws, everything else over `http`.
 */
import { ApolloLink } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { Kind, OperationTypeNode } from 'graphql';
import type { Client } from 'graphql-ws';

export function subscriptionsOverWebSocket(ws: Client, http: ApolloLink): ApolloLink {
  return ApolloLink.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === Kind.OPERATION_DEFINITION && definition.operation === OperationTypeNode.SUBSCRIPTION;
    },
    new GraphQLWsLink(ws),
    http,
  );
}
