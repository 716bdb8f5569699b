import {
  and,
  documents,
  eq,
  inCollection,
  sql,
  vectorIndexName,
  queryVectorParameter,
  type Placeholder,
  type SQL,
} from '@quarry/db';
import { indexRowsEstimate } from './collection-size';
import { runTemplate, statementTemplate, templatesByShape, type Transaction } from '../transaction';
import { candidateColumns, explainAnalyze, preparedName, runPrepared } from './columns';
import { splitKeywordQuery } from './keyword-query';
import type { Candidate, PreparedQuery, Retrieval } from './types';

export interface KeywordRetrievalRequest {
  tx: Transaction;
  prepared: PreparedQuery;
  text: string;
  /** Candidates to return. */
  wanted: number;
  /**
   * Matches of every word that answer alone (the page a keyword search shows, k + offset): a hybrid
   * search asks for more candidates than it shows, and fills them from the OR fallback only when
   * the strict query did not find this many.
   */
  enough: number;
  /** Also return EXPLAIN ANALYZE of the query. */
  explain: boolean;
}

/** The OR fallback counts at most this many terms (stop words included), in the order written. */
export const FALLBACK_COUNTED_TERMS = 48;
/** The OR fallback weighs at most this many terms, the rarest first. */
export const FALLBACK_MAX_TERMS = 12;
/** A term in at most this share of the searched rows makes its rows candidates (see fallbackHits). */
export const FALLBACK_SEED_SHARE = 0.05;
/**
 * Each term's rows, and the searched rows, are counted up to this many: a count stops there, so a
 * common word in a large collection costs no more than this. A term in more rows is weighed as if
 * in this many (its weight is small either way); past it, an unrestricted search weighs against
 * the collection's size as PostgreSQL last counted it, a restricted one against this many.
 */
export const FALLBACK_COUNT_CAP = 10_000;

/**
 * Full-text retrieval: the best `wanted` matches of `text` within the restrictions, best first.
 *
 * First as `websearch_to_tsquery` reads the text (every word, `"phrases"` as phrases, `-x`
 * excluded, `or`), ranked by ts_rank_cd. When fewer than `wanted` rows match every word, as a
 * natural-language question usually does, the OR fallback answers instead: rows matching any term
 * (word or phrase), exclusions still applied, ranked by the terms they contain, each weighted by
 * how rare it is within the searched rows (BM25's idf) times ts_rank for its frequency. A row that
 * matched every word contains every term, so it still ranks near the top. Both are one statement:
 * the fallback runs only when the strict query came up short.
 */
export async function retrieveByKeyword(request: KeywordRetrievalRequest): Promise<Retrieval> {
  const { tx, prepared, text, wanted } = request;
  const { terms, excluded } = splitKeywordQuery(text);
  const counted = terms.slice(0, FALLBACK_COUNTED_TERMS);
  const enough = Math.min(request.enough, wanted);
  if (!request.explain) {
    const fromTemplate = keywordQueryFromTemplate(request, counted, excluded, enough);
    if (fromTemplate) return { rows: await fromTemplate, plan: null };
  }
  const select = keywordQuery(tx, prepared, {
    scope: and(inCollection(prepared.collection.id), ...prepared.restrictions),
    text,
    terms: counted,
    excluded: excluded === '' ? null : excluded,
    wanted,
    enough,
    vector: prepared.vector,
    contentChars: prepared.contentChars,
  });
  const rows = (await runPrepared(select, 'quarry_keyword_search')) as Candidate[];
  return { rows, plan: request.explain ? await explainAnalyze(tx, select) : null };
}

/** What a keyword statement is made of: each value given, or a placeholder in a template. */
interface KeywordQueryParts {
  scope: SQL | undefined;
  text: string | Placeholder;
  /** The terms the OR fallback counts (at most FALLBACK_COUNTED_TERMS). */
  terms: ReadonlyArray<string | Placeholder>;
  /** Exclusions in websearch syntax; null for none (the statement then has no exclusion). */
  excluded: string | Placeholder | null;
  wanted: number | Placeholder;
  /** Strict hits that answer alone (see KeywordRetrievalRequest.enough), at most `wanted`. */
  enough: number | Placeholder;
  vector: number[] | Placeholder | undefined;
  contentChars: number | Placeholder;
}

/** The keyword statement: the hits (strict, or the OR fallback), ranked, with their columns. */
function keywordQuery(tx: Transaction, prepared: PreparedQuery, parts: KeywordQueryParts) {
  const { scope, text, terms, excluded, wanted } = parts;
  // Queries are parsed with the configuration the collection's search_text is made with, as a
  // bound parameter.
  const config = sql`${prepared.collection.textSearchConfig}::regconfig`;
  const strict = strictHits(config, text, scope, wanted);
  // Past the count cap, only an unrestricted search may use the collection's size: a bound
  // tenant or a filter weighs by its own rows.
  const sizeEstimate =
    prepared.restrictions.length === 0
      ? indexRowsEstimate(vectorIndexName(prepared.collection))
      : sql`null::float8`;
  const hits =
    terms.length > 1
      ? strictOrFallback(
          strict,
          fallbackHits({ config, terms, excluded, scope, wanted, sizeEstimate }),
          parts.enough,
        )
      : strict;
  return rankedRows(tx, prepared, hits, parts.vector, parts.contentChars);
}

/** The keyword statement of each shape (collection, tenant or not, terms, exclusions), built once. */
const keywordQueryTemplate = templatesByShape(200);

/**
 * The keyword statement of a search restricted to nothing but the collection (and the key's
 * tenant, the common shapes) from a template built once per shape, its values given at each run:
 * building the statement (the fallback's CTEs, a subquery per term) was about a third of a keyword
 * search's CPU in the server. Null for other shapes, which keywordQuery builds each time.
 */
function keywordQueryFromTemplate(
  request: KeywordRetrievalRequest,
  terms: readonly string[],
  excluded: string,
  enough: number,
): Promise<Candidate[]> | null {
  const { tx, prepared, text, wanted } = request;
  const { collection, tenant, vector } = prepared;
  if (prepared.restrictions.length !== (tenant === undefined ? 0 : 1)) return null;
  const key = [
    collection.id,
    collection.dimensions,
    collection.metric,
    collection.textSearchConfig,
    vectorIndexName(collection),
    tenant === undefined ? '' : 't',
    vector ? 'v' : '',
    terms.length,
    excluded === '' ? '' : 'x',
  ].join(':');
  const template = keywordQueryTemplate(key, () => {
    const query = keywordQuery(tx, prepared, {
      scope: and(
        inCollection(collection.id),
        tenant === undefined ? undefined : eq(documents.tenantId, sql.placeholder('tenant')),
      ),
      text: sql.placeholder('text'),
      terms: terms.map((_, index) => sql.placeholder(`term${index}`)),
      excluded: excluded === '' ? null : sql.placeholder('excluded'),
      wanted: sql.placeholder('wanted'),
      enough: sql.placeholder('enough'),
      vector: vector ? sql.placeholder('vector') : undefined,
      contentChars: sql.placeholder('contentChars'),
    });
    return statementTemplate(query, preparedName(query, 'quarry_keyword_search'));
  });
  const values: Record<string, unknown> = {
    text,
    excluded,
    wanted,
    enough,
    tenant,
    vector: vector && queryVectorParameter(prepared.collection, vector),
    contentChars: prepared.contentChars,
  };
  terms.forEach((term, index) => (values[`term${index}`] = term));
  return runTemplate<Candidate[]>(tx, template, values);
}

/** Rows matching the whole websearch query, as (id, keyword_score). */
function strictHits(
  config: SQL,
  text: string | Placeholder,
  scope: SQL | undefined,
  wanted: number | Placeholder,
): SQL {
  // A subquery, so the text is parsed once per statement: PostgreSQL's generic plan of a prepared
  // statement (chosen after its fifth run) calls a function of parameters again for every row it
  // matches and ranks (2,000 rows of 5,000: 7.9 ms against 4.4 ms).
  const query = sql`(select websearch_to_tsquery(${config}, ${text}))`;
  return sql`select ${documents.id} as id, ts_rank_cd(${documents.searchText}, ${query}) as keyword_score
    from ${documents}
    where ${scope} and ${documents.searchText} @@ ${query}
    order by keyword_score desc, ${documents.id}
    limit ${wanted}`;
}

/**
 * The strict hits when there are `enough` of them, otherwise the fallback's when it found more.
 * PostgreSQL reads a CTE only when asked, so a strict query that answers runs alone.
 */
function strictOrFallback(strict: SQL, fallback: SQL, enough: number | Placeholder): SQL {
  return sql`with strict as materialized (${strict}),
    strict_rows as (select count(*) as n from strict),
    fallback as materialized (${fallback})
    select id, keyword_score from strict
      where (select n from strict_rows) >= ${enough}
        or (select n from strict_rows) >= (select count(*) from fallback)
    union all
    select id, keyword_score from fallback
      where (select n from strict_rows) < ${enough}
        and (select count(*) from fallback) > (select n from strict_rows)`;
}

interface FallbackQuery {
  config: SQL;
  terms: ReadonlyArray<string | Placeholder>;
  excluded: string | Placeholder | null;
  scope: SQL | undefined;
  wanted: number | Placeholder;
  /** The searched rows when the count stops at FALLBACK_COUNT_CAP (float8, may be null). */
  sizeEstimate: SQL;
}

/**
 * Rows matching any of the terms, as (id, keyword_score). Each term's weight comes from the rows it
 * matches within the scope (restrictions included, so a tenant's ranking depends on its own rows
 * only), counted up to FALLBACK_COUNT_CAP; the searched rows too, unless the search is
 * unrestricted and PostgreSQL's estimate of the collection (as of its last ANALYZE or VACUUM) is
 * past twice the cap: the count would stop at the cap and take the estimate anyway, after reading
 * that many index entries. Only the FALLBACK_MAX_TERMS rarest terms that match anything are used.
 * Candidates are the rows with a rare term (in at most FALLBACK_SEED_SHARE of the rows, or one of
 * the three rarest): a row with only common words would rank low anyway, and scoring it costs as
 * much as any other.
 */
function fallbackHits({
  config,
  terms,
  excluded,
  scope,
  wanted,
  sizeEstimate,
}: FallbackQuery): SQL {
  const exclusion =
    excluded !== null
      ? sql`and ${documents.searchText} @@ (select websearch_to_tsquery(${config}, ${excluded}))`
      : sql``;
  // One count per term, each stopped at the cap. The term is a subquery's value, which PostgreSQL
  // plans without knowing, so its rows are found through the GIN index (a bitmap scan) whatever
  // the planner would guess of a known term's frequency: for a common one, a sequential scan that
  // stops at the cap looks cheaper to it, but tests (and detoasts) every row's search_text.
  // Uncorrelated, as Citus requires over a distributed table.
  const counted = terms.map((term) => {
    const query = sql`phraseto_tsquery(${config}, ${term})`;
    return sql`(${query}, (select count(*) from (
        select 1 from ${documents}
        where ${scope} and ${documents.searchText} @@ (select ${query})
        limit ${FALLBACK_COUNT_CAP}) as capped))`;
  });
  return sql`with matching(query, rows) as (values ${sql.join(counted, sql`, `)}),
    searched as (
      select case when coalesce(${sizeEstimate}, 0) >= ${2 * FALLBACK_COUNT_CAP}::float8
          then ${sizeEstimate}
          else (select case when counted < ${FALLBACK_COUNT_CAP} then counted
              else greatest(counted, coalesce(${sizeEstimate}, 0)) end
            from (select count(*) as counted from (
              select 1 from ${documents} where ${scope} limit ${FALLBACK_COUNT_CAP}) as capped) as counted)
        end as rows
    ),
    weights as materialized (
      select query,
        (rows < ${FALLBACK_COUNT_CAP} and rows <= searched_rows * ${FALLBACK_SEED_SHARE}::float8)
          or row_number() over (order by rows, query) <= 3 as seed,
        ln(1 + (greatest(searched_rows, rows) - rows + 0.5) / (rows + 0.5)) as idf
      from (
        select query, max(rows) as rows, (select rows from searched) as searched_rows
        from matching where rows > 0 group by query
      ) as distinct_terms
      order by rows, query
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
function rankedRows(
  tx: Transaction,
  prepared: PreparedQuery,
  hits: SQL,
  vector: number[] | Placeholder | undefined,
  contentChars: number | Placeholder,
) {
  return tx
    .select({
      ...candidateColumns(prepared.collection, vector, contentChars, true),
      keywordScore: sql<number>`hits.keyword_score`.mapWith(Number),
    })
    .from(sql`(${hits}) as hits`)
    .innerJoin(documents, sql`${documents.id} = hits.id`)
    .orderBy(sql`hits.keyword_score desc`, documents.id);
}
