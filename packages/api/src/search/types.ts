import type { Collection, DistanceMetric, QuarryDatabase, SQL } from '@quarry/db';
import type { SearchMode } from './input';

/** How the vector part of a query was answered. */
export type VectorStrategy = 'hnsw' | 'hnsw_iterative' | 'exact';

export interface SearchResult {
  id: string;
  externalId: string | null;
  tenant: string;
  /** The first `contentMaxChars` characters (by default the server's preview size); `documents.get` has the whole. */
  content: string;
  contentTruncated: boolean;
  /** Characters in the whole content. */
  contentLength: number;
  metadata: Record<string, unknown>;
  createdAt: string;
  /** Metric-aware, higher is closer: 1 − cosine distance; the inner product; 1 / (1 + L2 distance). */
  similarity: number | null;
  /** The raw pgvector distance (`<=>`, `<->`, or `<#>`, which is the negative inner product). */
  distance: number | null;
  /** 1-based rank in the vector retrieval, if it was retrieved there. */
  vectorRank: number | null;
  /** 1-based rank in the keyword retrieval, if it was retrieved there. */
  keywordRank: number | null;
  /** ts_rank_cd of the keyword match. */
  keywordScore: number | null;
  /** The score results are ordered by: similarity (vector), keyword score (keyword), RRF (hybrid). */
  score: number;
}

export interface SearchStats {
  mode: SearchMode;
  tookMs: number;
  strategy: VectorStrategy | null;
  /** Why that strategy, in words. */
  strategyReason: string | null;
  efSearch: number | null;
  /** hnsw.max_scan_tuples of an iterative scan; null otherwise. */
  maxScanTuples: number | null;
  /** Share of the collection estimated to pass the restrictions (1 unrestricted), when the plan needed it. */
  selectivity: number | null;
  /**
   * True when the vector results came from the HNSW index (`hnsw` or `hnsw_iterative`): an
   * approximate search, which may miss some true neighbours. False for an exact scan (asked for,
   * planned, or re-run) and without a vector retrieval.
   */
  approximate: boolean;
  /** Why approximate, in words; also says when the request's efSearch is below the planned one. */
  approximateReason: string | null;
  /**
   * The query was re-run as an exact scan: the index returned fewer than asked while more rows
   * match, or missed a sampled row nearer than its last (see strategyReason).
   */
  exactFallback: boolean;
  /** Candidates asked of each retriever. */
  candidates: number;
  /** Rows matching the collection, tenant, date and metadata restrictions, counted up to `matchedRowsCappedAt`. */
  matchedRows: number | null;
  matchedRowsCappedAt: number | null;
  fewerThanK: boolean;
  metric: DistanceMetric;
}

export interface SearchResponse {
  results: SearchResult[];
  /** The `offset` of the next page, or null when this page was not full (nothing more matches). */
  nextOffset: number | null;
  stats: SearchStats;
  /** EXPLAIN ANALYZE of the vector retrieval, when asked for. */
  plan: string[] | null;
  /** EXPLAIN ANALYZE of the keyword retrieval, when asked for. */
  keywordPlan: string[] | null;
}

/** A row as a retriever returns it, before fusion and shaping. */
export interface Candidate {
  id: string;
  externalId: string | null;
  tenant: string;
  content: string;
  contentLength: number;
  metadata: Record<string, unknown>;
  createdAt: Date | string;
  distance: number | null;
  keywordScore: number | null;
}

/** What one retriever returned: its candidates, best first, and its plan when asked for. */
export interface Retrieval {
  rows: Candidate[];
  plan: string[] | null;
}

/** Everything a search needs before touching the documents (see prepareQuery). */
export interface PreparedQuery {
  /** Possibly from the cache: `collectionIsCurrent` must hold in the transaction that reads with it. */
  collection: Collection;
  collectionIsCurrent: SQL<boolean>;
  tenant: string | undefined;
  vector: number[] | undefined;
  /** Restrictions other than the collection: tenant, dates, metadata filter. */
  restrictions: SQL[];
  /** The compiled metadata filter (also among the restrictions). */
  filter: SQL | undefined;
  /** The database (a replica, or the primary) that answers this query, its collection lookup included. */
  reader: QuarryDatabase;
  /** Characters of each result's content (see contentPreviewChars). */
  contentChars: number;
}
