import { ConnectionException, DriverException } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { isDatabaseUnavailable, toAppError } from '../../src/errors/to-app-error';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
const knexTimeout = Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['refused', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['reset', withCode('read ECONNRESET', 'ECONNRESET')],
    ['dropped', new Error('Connection terminated unexpectedly')],
    ['admin shutdown', withCode('terminating connection due to administrator command', '57P01')],
    ['crash shutdown', withCode('terminating connection because of crash of another server process', '57P02')],
    ['starting up', withCode('the database system is starting up', '57P03')],
    ['connection class', withCode('connection failure', '08006')],
    ['statement timeout', withCode('canceling statement due to statement timeout', '57014')],
    ['too many connections', withCode('sorry, too many clients already', '53300')],
    ['a read-only database', withCode('cannot execute INSERT in a read-only transaction', '25006')],
    ['a lock timeout', withCode('canceling statement due to lock timeout', '55P03')],
    // PostgreSQL rolled the transaction back whole; the same request succeeds when sent again.
    ['a serialization failure', withCode('could not serialize access due to concurrent update', '40001')],
    ['a deadlock', withCode('deadlock detected', '40P01')],
    ['a deadlock wrapped by MikroORM', new DriverException(withCode('deadlock detected', '40P01'))],
    ['a database closed to new connections', withCode('database "orders" is not currently accepting connections', '55000')],
    ['pool timeout', knexTimeout],
    ['pool timeout wrapped by MikroORM', new DriverException(knexTimeout)],
    ['a broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['MikroORM connection exception', new ConnectionException(new Error('x'))],
    ['as a cause', Object.assign(new Error('outer'), { cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED') })],
    // knex, when the connection under a transaction died mid-way (seen once during a database crash).
    ['a transaction cut short', new Error('Transaction query already complete, run with DEBUG=knex:tx for more info')],
    ['a transaction cut short, wrapped by MikroORM', new DriverException(new Error('Transaction query already complete, run with DEBUG=knex:tx for more info'))],
  ])('recognises %s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(toAppError(error)).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 2 });
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a constraint', withCode('duplicate key value violates unique constraint', '23505')],
    ['a syntax error', withCode('syntax error at or near ","', '42601')],
    // Class 40's other members are not a concurrency conflict to wait out.
    ['an integrity constraint at commit', withCode('insert or update violates foreign key constraint', '40002')],
    // 55000 is also a bug's code: object_not_in_prerequisite_state is not about the connection.
    ['currval before nextval', withCode('currval of sequence "s" is not yet defined in this session', '55000')],
    // What the server answers to a NUL byte in a text parameter: the request's fault, never an outage.
    ['a protocol violation', withCode('invalid message format', '08P01')],
    ['a protocol violation wrapped by MikroORM', new DriverException(withCode('invalid message format', '08P01'))],
  ])('does not excuse %s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(toAppError(error)).toMatchObject({ code: 'INTERNAL_ERROR', message: 'Internal server error' });
  });

  it('passes typed errors through', () => {
    const error = AppError.notFound('Order x');
    expect(toAppError(error)).toBe(error);
  });
});
