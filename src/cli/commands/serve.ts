/** `order-gateway serve`: the HTTP server. Its modules (Fastify, Apollo, TypeGraphQL) load only when it runs. */
import type { Command } from 'commander';
import { environmentHelp } from '../../config/config';
import type { CliContext } from '../context';

export function registerServe(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description('start the HTTP server (GraphQL at /graphql, REST at /api)')
    .addHelpText('after', `\nEnvironment variables (also read from ./.env; the real environment wins):\n${environmentHelp()}`)
    .action(async () => {
      // Fastify, Apollo and TypeGraphQL load here, for `serve` alone.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { serve } = require('../../main') as typeof import('../../main');
      await serve(context.config());
    });
}
