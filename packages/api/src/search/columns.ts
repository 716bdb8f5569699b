import {
  and,
  distanceTo,
  documents,
  inCollection,
  isNotNull,
  queryRows,
  sql,
  type Collection,
  type Placeholder,
  type SQL,
  type SQLWrapper,
} from '@quarry/db';
import type { Transaction } from '../transaction';
import type { PreparedQuery } from './types';

/** The rows a vector retrieval ranks: the collection's rows with an embedding, within the restrictions. */
export function vectorScope(prepared: PreparedQuery): SQL | undefined {
  return and(
    inCollection(prepared.collection.id),
    isNotNull(documents.embedding),
    ...prepared.restrictions,
  );
}

/** A candidate's columns; `distance` is null without a query vector. */
export function candidateColumns(
  collection: Collection,
  vector: number[] | Placeholder | undefined,
  contentChars: number | Placeholder,
  exact: boolean,
) {
  return {
    id: documents.id,
    externalId: documents.externalId,
    tenant: documents.tenantId,
    // Only the prefix leaves PostgreSQL (substr reads no more of a long value than it returns).
    content: sql<string>`substr(${documents.content}, 1, ${contentChars})`,
    contentLength: sql<number>`char_length(${documents.content})`.mapWith(Number),
    metadata: sql<Record<string, unknown>>`${documents.metadata}`,
    createdAt: documents.createdAt,
    distance: vector
      ? sql<number>`${distanceTo(collection, vector, { exact })}`.mapWith(Number).as('distance')
      : sql<null>`null`,
  };
}

export async function explainAnalyze(tx: Transaction, query: SQLWrapper): Promise<string[]> {
  const rows = await queryRows<Record<string, string>>(
    tx,
    sql`explain (analyze, costs, buffers off) ${query}`,
  );
  return rows.map((row) => Object.values(row)[0] ?? '');
}

/** Statement texts this process prepares; past the cap (filters make shapes unbounded) the rest run unprepared. */
const preparedTexts = new Set<string>();
const MAX_PREPARED_TEXTS = 200;

interface Preparable<T> {
  execute(): Promise<T>;
  prepare(name: string): { getQuery(): { sql: string }; execute(): Promise<T> };
}

/**
 * Runs a query as a prepared statement where the driver prepares (not behind a transaction
 * pooler, see @quarry/db's createDb): a parameterised statement that is not prepared is described
 * first, a round trip of its own that also holds back the statements pipelined behind it. Only
 * MAX_PREPARED_TEXTS distinct texts are prepared, since each stays on every connection. The SQL is
 * built once (the prepared query's text is the one looked up).
 */
export function runPrepared<T>(query: Preparable<T>, name: string): Promise<T> {
  const prepared = query.prepare(name);
  return preparesText(prepared.getQuery().sql) ? prepared.execute() : query.execute();
}

/** `name` when `query`'s text is (or may now be) one of the texts prepared, else undefined. */
export function preparedName(
  query: { toSQL(): { sql: string } },
  name: string,
): string | undefined {
  return preparesText(query.toSQL().sql) ? name : undefined;
}

function preparesText(text: string): boolean {
  if (preparedTexts.has(text)) return true;
  if (preparedTexts.size >= MAX_PREPARED_TEXTS) return false;
  preparedTexts.add(text);
  return true;
}
