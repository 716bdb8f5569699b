import { once } from 'node:events';
import { endianness } from 'node:os';
import type { PGlite, Transaction as PgliteTransaction } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Sql, TransactionSql } from 'postgres';
import type { CopyTarget, CopyType, CopyValue, WriteSession } from './write-session';

const dialect = new PgDialect();

export function postgresWriteSession(client: Sql) {
  return <T>(work: (session: WriteSession) => Promise<T>): Promise<T> =>
    client.begin((connection) => work(postgresSession(connection))) as Promise<T>;
}

export function pgliteWriteSession(client: PGlite) {
  return <T>(work: (session: WriteSession) => Promise<T>): Promise<T> =>
    client.transaction((transaction) => work(pgliteSession(transaction)));
}

function postgresSession(connection: TransactionSql): WriteSession {
  return {
    async run<Row>(query: SQL) {
      const { sql: text, params } = dialect.sqlToQuery(query);
      return connection.unsafe<Row[]>(text, params.map(asParameter));
    },
    copy: (target, rows) =>
      copyFromStdin(
        connection,
        `copy ${copyTargetSql(target)} from stdin (format binary)`,
        binaryCopy(target, rows),
      ),
    attempt: (work) =>
      connection
        .savepoint((savepoint) => work(postgresSession(savepoint)))
        .then(
          () => true,
          () => false,
        ),
  };
}

function pgliteSession(transaction: PgliteTransaction): WriteSession {
  const session: WriteSession = {
    async run<Row>(query: SQL) {
      const { sql: text, params } = dialect.sqlToQuery(query);
      return (await transaction.query<Row>(text, params.map(asParameter))).rows;
    },
    async copy(target, rows) {
      // PGlite's COPY reads the Blob passed with the statement as the file /dev/blob.
      await transaction.query(
        `copy ${copyTargetSql(target)} from '/dev/blob' (format binary)`,
        [],
        {
          blob: new Blob(Array.from(binaryCopy(target, rows), (chunk) => new Uint8Array(chunk))),
        },
      );
    },
    async attempt(work) {
      await transaction.exec('savepoint quarry_bulk_write');
      try {
        await work(session);
        await transaction.exec('release savepoint quarry_bulk_write');
        return true;
      } catch {
        await transaction.exec('rollback to savepoint quarry_bulk_write');
        return false;
      }
    },
  };
  return session;
}

/** Statements here bind only numbers and strings (ids, tenant, settings, JSON). */
function asParameter(value: unknown): string | number | null {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  throw new Error(`unexpected ${typeof value} parameter in a bulk write statement`);
}

const plainIdentifier = /^[a-z_][a-z0-9_]*$/;

/** `"table" ("a", "b")`: names are checked, not bound (COPY takes no parameters). */
function copyTargetSql(target: CopyTarget): string {
  const names = [target.table, ...target.columns.map((column) => column.name)];
  for (const name of names) {
    if (!plainIdentifier.test(name)) throw new Error(`not a plain identifier: ${name}`);
  }
  return `"${target.table}" (${target.columns.map((column) => `"${column.name}"`).join(', ')})`;
}

/**
 * Streams `chunks` into a `COPY ... FROM STDIN` on the transaction's connection. postgres.js 3.4.9
 * never settles a COPY the server rejects after its last byte: the stream neither finishes nor
 * errors (porsager/postgres#1173). So each write is awaited, which lets `end()` hand CopyDone to the
 * socket at once, and a trivial statement queued behind the COPY settles the wait: it runs when the
 * COPY is over, and fails in the then aborted transaction if the COPY failed.
 */
async function copyFromStdin(
  connection: TransactionSql,
  statement: string,
  chunks: Iterable<Buffer>,
): Promise<void> {
  const stream = await connection.unsafe(statement).writable();
  // A rejection mid-stream does arrive: postgres.js destroys the stream with the server's error.
  let serverError: Error | undefined;
  stream.on('error', (error) => {
    serverError ??= error;
  });
  for (const chunk of chunks) {
    const failed = await new Promise<Error | null | undefined>((resolve) =>
      stream.write(chunk, resolve),
    );
    if (failed) {
      await new Promise(setImmediate); // the 'error' event with the server's reason follows the callbacks
      throw serverError ?? failed;
    }
  }
  const finished = once(stream, 'finish');
  stream.end();
  try {
    await connection`select 1`;
  } catch (error) {
    throw new Error(
      'the database refused the COPY stream (postgres.js does not pass on its reason: porsager/postgres#1173)',
      { cause: error },
    );
  }
  await finished;
}

/** Rows encoded per buffer handed to COPY: about 1.6 MB at 1,536 dimensions. */
const COPY_ROWS_PER_CHUNK = 256;

/**
 * PostgreSQL's binary COPY format: a signature and two empty header fields, one tuple per row
 * (field count, then each field as a byte length and its binary value), and a -1 trailer. See
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4. Vectors go as pgvector's
 * binary form: int16 dimensions, int16 unused (0), float4 components.
 */
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function* binaryCopy(target: CopyTarget, rows: Iterable<readonly CopyValue[]>): Generator<Buffer> {
  const types = target.columns.map((column) => column.type);
  const header = Buffer.alloc(COPY_SIGNATURE.length + 8);
  COPY_SIGNATURE.copy(header);
  yield header;
  let chunk: Array<readonly CopyValue[]> = [];
  for (const row of rows) {
    chunk.push(row);
    if (chunk.length === COPY_ROWS_PER_CHUNK) {
      yield encodeRows(types, chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) yield encodeRows(types, chunk);
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  yield trailer;
}

function encodeRows(types: readonly CopyType[], rows: ReadonlyArray<readonly CopyValue[]>): Buffer {
  // Measured first, then written in place: strings are encoded straight into the buffer.
  const lengths = new Int32Array(rows.length * types.length);
  let size = 0;
  let field = 0;
  for (const row of rows) {
    size += 2;
    for (let column = 0; column < types.length; column++, field++) {
      lengths[field] = fieldLength(types[column] ?? 'text', row[column]);
      size += 4 + Math.max(lengths[field] ?? 0, 0);
    }
  }
  const buffer = Buffer.allocUnsafe(size);
  let offset = 0;
  field = 0;
  for (const row of rows) {
    offset = buffer.writeInt16BE(types.length, offset);
    for (let column = 0; column < types.length; column++, field++) {
      const type = types[column] ?? 'text';
      const value = row[column] ?? null;
      const length = lengths[field] ?? -1;
      offset = buffer.writeInt32BE(length, offset);
      if (length < 0) continue;
      switch (type) {
        case 'int4':
          buffer.writeInt32BE(value as number, offset);
          break;
        case 'uuid':
          buffer.write((value as string).replaceAll('-', ''), offset, 16, 'hex');
          break;
        case 'text':
          buffer.write(value as string, offset, length, 'utf8');
          break;
        case 'jsonb':
          buffer[offset] = 1; // jsonb's binary form: a version byte, then the JSON text
          buffer.write(value as string, offset + 1, length - 1, 'utf8');
          break;
        case 'vector':
          writeVector(buffer, offset, value as readonly number[] | Float32Array);
          break;
      }
      offset += length;
    }
  }
  return buffer;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * pgvector's binary form at `offset`: int16 dimensions, int16 0, then the float4 components in
 * network (big-endian) order. The components are copied as float32 bytes and their order swapped
 * in one native pass; numbers are first narrowed to float32 by a typed array's `set`, which rounds
 * as DataView.setFloat32 does.
 */
function writeVector(buffer: Buffer, offset: number, vector: readonly number[] | Float32Array) {
  buffer.writeInt16BE(vector.length, offset);
  buffer.writeInt16BE(0, offset + 2);
  const start = offset + 4;
  const end = start + 4 * vector.length;
  let components: Float32Array;
  if (vector instanceof Float32Array) {
    components = vector;
  } else {
    if (narrowed.length < vector.length) narrowed = new Float32Array(vector.length);
    components = narrowed.subarray(0, vector.length);
    components.set(vector);
  }
  buffer.set(
    new Uint8Array(components.buffer, components.byteOffset, components.byteLength),
    start,
  );
  if (LITTLE_ENDIAN) buffer.subarray(start, end).swap32();
}

/** Reused by writeVector to narrow number vectors to float32 (encoding is synchronous). */
let narrowed = new Float32Array(0);

/** A field's byte length in the COPY data; -1 is NULL. */
function fieldLength(type: CopyType, value: CopyValue | undefined): number {
  if (value === null || value === undefined) return -1;
  switch (type) {
    case 'int4':
      return 4;
    case 'uuid':
      return 16;
    case 'text':
      return Buffer.byteLength(value as string, 'utf8');
    case 'jsonb':
      return 1 + Buffer.byteLength(value as string, 'utf8');
    case 'vector':
      return 4 + 4 * (value as readonly number[] | Float32Array).length;
  }
}
