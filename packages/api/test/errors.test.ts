import { QuarryError } from '@quarry/db';
import { describe, expect, it } from 'vitest';
import { quarryCodeOf, toTRPCError } from '../src/errors';

/** What Drizzle throws: its own error naming the query, with the driver's (or the pool's) error as the cause. */
function wrappedLikeDrizzle(cause: unknown): Error {
  return new Error('Failed query: select 1\nparams: ', { cause });
}

function driverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('toTRPCError: database faults become typed errors, never INTERNAL_SERVER_ERROR', () => {
  it('a pool with no free connection (DATABASE_BUSY, wrapped by Drizzle) is SERVICE_UNAVAILABLE with its own message', () => {
    const busy = new QuarryError(
      'DATABASE_BUSY',
      'no database connection came free within 10000 ms (all 10 are in use); retry shortly',
    );
    const error = toTRPCError(wrappedLikeDrizzle(busy));
    expect(error.code).toBe('SERVICE_UNAVAILABLE');
    expect(quarryCodeOf(error)).toBe('DATABASE_BUSY');
    expect(error.message).toBe(busy.message);
  });

  it.each([
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ['57P01', 'terminating connection due to administrator command'],
    ['57P03', 'the database system is starting up'],
    ['CONNECTION_CLOSED', 'write CONNECTION_CLOSED 127.0.0.1:5432'],
    ['ECONNRESET', 'read ECONNRESET'],
    ['EPIPE', 'write EPIPE'],
    ['57P02', 'terminating connection because of crash of another server process'],
    ['08003', 'connection does not exist'],
    ['53300', 'sorry, too many clients already'],
  ])(
    'a lost or refused connection (%s) is SERVICE_UNAVAILABLE / DATABASE_UNAVAILABLE, without the driver text',
    (code, message) => {
      const error = toTRPCError(wrappedLikeDrizzle(driverError(code, message)));
      expect(error.code).toBe('SERVICE_UNAVAILABLE');
      expect(quarryCodeOf(error)).toBe('DATABASE_UNAVAILABLE');
      expect(error.message).toBe('the database is unavailable right now; retry shortly');
    },
  );

  it('a statement cancelled by statement_timeout (57014) is TIMEOUT / STATEMENT_TIMEOUT', () => {
    const error = toTRPCError(
      wrappedLikeDrizzle(driverError('57014', 'canceling statement due to statement timeout')),
    );
    expect(error.code).toBe('TIMEOUT');
    expect(quarryCodeOf(error)).toBe('STATEMENT_TIMEOUT');
  });

  it.each([
    ['40P01', 'deadlock detected'],
    ['40001', 'could not serialize access due to concurrent update'],
  ])(
    'a transaction that kept colliding (%s) is CONFLICT / TRANSACTION_CONFLICT, asking for a retry',
    (code, message) => {
      const error = toTRPCError(wrappedLikeDrizzle(driverError(code, message)));
      expect(error.code).toBe('CONFLICT');
      expect(quarryCodeOf(error)).toBe('TRANSACTION_CONFLICT');
      expect(error.message).toMatch(/retry it$/);
    },
  );

  it('anything else stays an internal error with a message that reveals nothing', () => {
    const error = toTRPCError(
      wrappedLikeDrizzle(driverError('42P01', 'relation "secret_table" does not exist')),
    );
    expect(error.code).toBe('INTERNAL_SERVER_ERROR');
    expect(error.message).toBe('internal error');
    expect(quarryCodeOf(error)).toBeUndefined();
  });
});
