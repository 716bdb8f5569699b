import { and, documents, eq, inCollection, sql } from '@quarry/db';
import type { Transaction } from '../transaction';
import { candidateColumns, explainAnalyze } from './columns';
import type { Candidate, PreparedQuery, Retrieval } from './types';

export interface KeywordRetrievalRequest {
  tx: Transaction;
  prepared: PreparedQuery;
  text: string;
  /** Candidates to return. */
  wanted: number;
  /** Also return EXPLAIN ANALYZE of the query. */
  explain: boolean;
}

/** Full-text retrieval: the best `wanted` matches of `text` within the restrictions, best first. */
export async function retrieveByKeyword(request: KeywordRetrievalRequest): Promise<Retrieval> {
  const { tx, prepared, text, wanted } = request;
  const { collection, vector } = prepared;
  const query = sql`websearch_to_tsquery('english', ${text})`;
  // The matches are ranked first and only the top ones are joined back for their columns: a query
  // vector's distance in the same SELECT would be computed (and each embedding detoasted) for every
  // matching row, not just the ones kept.
  const hits = tx
    .select({
      id: documents.id,
      keywordScore: sql<number>`ts_rank_cd(${documents.searchText}, ${query})`.as('keyword_score'),
    })
    .from(documents)
    .where(
      and(
        inCollection(collection.id),
        sql`${documents.searchText} @@ ${query}`,
        ...prepared.restrictions,
      ),
    )
    .orderBy(sql`keyword_score desc`, documents.id)
    .limit(wanted)
    .as('hits');
  const select = tx
    .select({
      ...candidateColumns(collection, vector, prepared.contentChars, true),
      keywordScore: sql<number>`${hits.keywordScore}`.mapWith(Number),
    })
    .from(hits)
    .innerJoin(documents, eq(documents.id, hits.id))
    .orderBy(sql`${hits.keywordScore} desc`, documents.id);
  const rows = (await select) as Candidate[];
  return { rows, plan: request.explain ? await explainAnalyze(tx, select) : null };
}
