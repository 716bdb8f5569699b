import type { SQL } from 'drizzle-orm';

/*
 * The bulk write session's shape, apart from its driver implementations (bulk-write.ts): the
 * Database type (and through the router's context, the typed client's declarations) carries it,
 * and must not carry the drivers' own types with it.
 */

/** The binary types a COPY column may have here. */
export type CopyType = 'int4' | 'uuid' | 'text' | 'jsonb' | 'vector';
/**
 * One value per column: text/jsonb as strings (jsonb as its JSON text), vectors as numbers or as
 * float32 components (copied as they are, in the byte order COPY wants).
 */
export type CopyValue = number | string | null | readonly number[] | Float32Array;

export interface CopyTarget {
  table: string;
  columns: ReadonlyArray<{ name: string; type: CopyType }>;
}

/**
 * One transaction on one connection with the driver's bulk capabilities, which drizzle's
 * transactions hide: binary COPY (postgres.js streams it, PGlite reads it from a Blob) and
 * savepoints a failed COPY can be rolled back to.
 */
export interface WriteSession {
  /** Runs one statement and returns its rows. Parameters must be strings, numbers or null. */
  run<Row>(query: SQL): Promise<Row[]>;
  /** Writes `rows` into the table with one binary `COPY ... FROM STDIN`. */
  copy(target: CopyTarget, rows: Iterable<readonly CopyValue[]>): Promise<void>;
  /** Runs `work` in a savepoint: true when it succeeded, false when it failed and was rolled back. */
  attempt(work: (session: WriteSession) => Promise<void>): Promise<boolean>;
}
