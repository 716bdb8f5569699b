import { and, documents, inCollection, sql, type SQL } from '@quarry/db';
import type { Transaction } from '../transaction';
import { candidateColumns, explainAnalyze } from './columns';
import { splitKeywordQuery } from './keyword-query';
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

/** The OR fallback weighs at most this many terms, the rarest first (a pasted paragraph stays cheap). */
export const FALLBACK_MAX_TERMS = 12;
/** A term in at most this share of the searched rows makes its rows candidates (see fallbackHits). */
export const FALLBACK_SEED_SHARE = 0.05;
/** Rows counted for the terms' weights: past it, every term's weight is measured against this many. */
export const FALLBACK_COUNT_CAP = 100_000;

/**
 * Full-text retrieval: the best `wanted` matches of `text` within the restrictions, best first.
 *
 * First as `websearch_to_tsquery` reads the text (every word, `"phrases"` as phrases, `-x`
 * excluded, `or`), ranked by ts_rank_cd. When fewer than `wanted` rows match every word, as a
 * natural-language question usually does, the OR fallback answers instead: rows matching any term
 * (word or phrase), exclusions still applied, ranked by the terms they contain, each weighted by
 * how rare it is within the searched rows (BM25's idf) times ts_rank for its frequency. A row that
 * matched every word contains every term, so it still ranks near the top.
 */
export async function retrieveByKeyword(request: KeywordRetrievalRequest): Promise<Retrieval> {
  const { tx, prepared, text, wanted } = request;
  const scope = and(inCollection(prepared.collection.id), ...prepared.restrictions);
  // Queries are parsed with the configuration the collection's search_text is made with, as a
  // bound parameter.
  const config = sql`${prepared.collection.textSearchConfig}::regconfig`;
  const strict = await rankedRows(tx, prepared, strictHits(config, text, scope, wanted));
  const { terms, excluded } = splitKeywordQuery(text);
  const fallback =
    strict.rows.length < wanted && terms.length > 1
      ? await rankedRows(tx, prepared, fallbackHits(config, terms, excluded, scope, wanted))
      : undefined;
  const { rows, select } =
    fallback && fallback.rows.length > strict.rows.length ? fallback : strict;
  return { rows, plan: request.explain ? await explainAnalyze(tx, select) : null };
}

/** Rows matching the whole websearch query, as (id, keyword_score). */
function strictHits(config: SQL, text: string, scope: SQL | undefined, wanted: number): SQL {
  const query = sql`websearch_to_tsquery(${config}, ${text})`;
  return sql`select ${documents.id} as id, ts_rank_cd(${documents.searchText}, ${query}) as keyword_score
    from ${documents}
    where ${scope} and ${documents.searchText} @@ ${query}
    order by keyword_score desc, ${documents.id}
    limit ${wanted}`;
}

/**
 * Rows matching any of the terms, as (id, keyword_score). Each term's weight comes from the rows it
 * matches within the scope (restrictions included, so a tenant's ranking depends on its own rows
 * only); only the FALLBACK_MAX_TERMS rarest terms that match anything are used. Candidates are the
 * rows with a rare term (in at most FALLBACK_SEED_SHARE of the rows, or one of the three rarest):
 * a row with only common words would rank low anyway, and scoring it costs as much as any other.
 */
function fallbackHits(
  config: SQL,
  terms: string[],
  excluded: string,
  scope: SQL | undefined,
  wanted: number,
): SQL {
  const exclusion = excluded
    ? sql`and ${documents.searchText} @@ websearch_to_tsquery(${config}, ${excluded})`
    : sql``;
  return sql`with terms as (
      select distinct phraseto_tsquery(${config}, term) as query
      from jsonb_array_elements_text(${JSON.stringify(terms)}::jsonb) as term
    ),
    -- Joins and GROUP BY rather than correlated subqueries: the same counts and sums, and Citus
    -- runs them on the shards (it refuses correlated subqueries over a distributed table here).
    -- A term that matches nothing drops out of the join, as "where matching.rows > 0" drops it.
    matching as materialized (
      select terms.query, count(*) as rows
      from terms join ${documents} on ${documents.searchText} @@ terms.query
      where ${scope} and numnode(terms.query) > 0
      group by terms.query
    ),
    searched as (
      select count(*) as rows from (select 1 from ${documents} where ${scope} limit ${FALLBACK_COUNT_CAP}) as capped
    ),
    weights as materialized (
      select matching.query,
        matching.rows <= searched.rows * ${FALLBACK_SEED_SHARE}::float8
          or row_number() over (order by matching.rows, matching.query) <= 3 as seed,
        ln(1 + (greatest(searched.rows, matching.rows) - matching.rows + 0.5) / (matching.rows + 0.5)) as idf
      from matching, searched
      where matching.rows > 0
      order by matching.rows, matching.query
      limit ${FALLBACK_MAX_TERMS}
    )
    select ${documents.id} as id, sum(weights.idf * ts_rank(${documents.searchText}, weights.query)) as keyword_score
    from ${documents} join weights on ${documents.searchText} @@ weights.query
    where ${scope}
      and ${documents.searchText} @@ any(array(select query from weights where seed))
      ${exclusion}
    group by ${documents.id}
    order by keyword_score desc, ${documents.id}
    limit ${wanted}`;
}

/**
 * The hits joined back for their columns. The matches are ranked first and only the top ones are
 * joined: a query vector's distance in the same SELECT would be computed (and each embedding
 * detoasted) for every matching row, not just the ones kept.
 */
async function rankedRows(tx: Transaction, prepared: PreparedQuery, hits: SQL) {
  const { collection, vector } = prepared;
  const select = tx
    .select({
      ...candidateColumns(collection, vector, prepared.contentChars, true),
      keywordScore: sql<number>`hits.keyword_score`.mapWith(Number),
    })
    .from(sql`(${hits}) as hits`)
    .innerJoin(documents, sql`${documents.id} = hits.id`)
    .orderBy(sql`hits.keyword_score desc`, documents.id);
  return { rows: (await select) as Candidate[], select };
}
