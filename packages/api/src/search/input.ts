import { z } from 'zod';
import { metadataFilterSchema } from '../filter';
import { fusionMethods, HYBRID_DEFAULTS } from './fuse';
import { HARD_LIMITS } from '../limits';
import {
  collectionNameSchema,
  createdRangeSchema,
  documentIdSchema,
  storableText,
  tenantSchema,
  vectorSchema,
} from '../inputs';

export const searchModes = ['vector', 'keyword', 'hybrid'] as const;
export type SearchMode = (typeof searchModes)[number];

/** Strict, nested objects too: an unknown field is refused naming it, never silently ignored. */
export const searchInputSchema = z.strictObject({
  collection: collectionNameSchema,
  /**
   * vector: nearest neighbours; keyword: PostgreSQL full text over the first 100,000 characters of
   * each document (`KEYWORD_INDEXED_CHARS`), every word first, then any of them ranked by how rare
   * they are; hybrid: both, fused (`hybrid.fusion`).
   */
  mode: z.enum(searchModes).default('vector'),
  /**
   * Query text: embedded with the collection's model for vector search; for keyword search, read as
   * websearch_to_tsquery reads it (`"phrases"`, `-exclusions`, `or`).
   */
  text: storableText(z.string().min(1).max(HARD_LIMITS.queryTextChars)).optional(),
  /** A query vector; takes precedence over embedding `text`. */
  vector: vectorSchema.optional(),
  /** "More like this": use a stored document's vector as the query. */
  likeDocumentId: documentIdSchema.optional(),
  k: z.number().int().min(1).max(HARD_LIMITS.k).default(10),
  /**
   * Results to skip: the next page is the same query with `offset` + k (see `nextOffset`). Each
   * page ranks k + offset candidates again, so k + offset is bounded by the server's maxK.
   */
  offset: z.number().int().min(0).max(HARD_LIMITS.k).default(0),
  filter: metadataFilterSchema.optional(),
  tenant: tenantSchema.optional(),
  ...createdRangeSchema,
  /** Minimum similarity (see `similarity` in the results for its meaning per metric). */
  minSimilarity: z.number().min(-1e6).max(1e6).optional(),
  /** HNSW candidate list size (pgvector's hnsw.ef_search); raised to at least the number of candidates asked for. */
  efSearch: z.number().int().min(1).max(1000).optional(),
  /** Exact nearest neighbours by sequential scan: the ground truth, slower on large collections. */
  exact: z.boolean().default(false),
  hybrid: z
    .strictObject({
      /**
       * rrf: reciprocal rank fusion, score = Σ weight / (rrfK + rank); score: weighted sum of the
       * vector similarity and the keyword score, each scaled to [0, 1] over the candidates.
       */
      fusion: z.enum(fusionMethods).default(HYBRID_DEFAULTS.fusion),
      /** The RRF constant (rrf only). */
      rrfK: z.number().int().min(1).max(10_000).default(HYBRID_DEFAULTS.rrfK),
      vectorWeight: z.number().min(0).max(100).default(HYBRID_DEFAULTS.vectorWeight),
      keywordWeight: z.number().min(0).max(100).default(HYBRID_DEFAULTS.keywordWeight),
      /** How many results each retriever contributes before fusion (default max(40, 4k)). */
      candidates: z.number().int().min(1).max(HARD_LIMITS.k).optional(),
    })
    .default(HYBRID_DEFAULTS),
  /** Truncate each result's content to this many characters. */
  contentMaxChars: z.number().int().min(0).max(HARD_LIMITS.contentChars).optional(),
  /**
   * Return the query plans (EXPLAIN ANALYZE) of the vector and keyword retrievals. Only for a key
   * not bound to a tenant (403 otherwise): plans count every tenant's rows.
   */
  explain: z.boolean().default(false),
});
export type SearchInput = z.infer<typeof searchInputSchema>;
