import {
  and,
  distanceTo,
  documents,
  inCollection,
  isNotNull,
  queryRows,
  sql,
  type Collection,
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
  vector: number[] | undefined,
  contentChars: number,
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
