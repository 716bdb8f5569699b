import { z } from 'zod';

/** Hard ceilings that no configuration can raise: they keep one request's cost bounded. */
export const HARD_LIMITS = {
  batchDocuments: 10_000,
  k: 1_000,
  vectorDimensions: 16_000,
  contentChars: 1_000_000,
  queryTextChars: 4_000,
  /** Levels of arrays and objects in a document's metadata (a bare `{}` is 1). */
  metadataDepth: 64,
} as const;

export const limitsSchema = z.object({
  /** Documents in one ingest call. */
  maxBatchDocuments: z.number().int().min(1).max(HARD_LIMITS.batchDocuments).default(1_000),
  /** Serialized size of one ingest call's documents. */
  maxPayloadBytes: z
    .number()
    .int()
    .min(1_024)
    .default(16 * 1024 * 1024),
  /** Results per search. */
  maxK: z.number().int().min(1).max(HARD_LIMITS.k).default(200),
  /** Per-request `statement_timeout`; 0 disables it. */
  statementTimeoutMs: z.number().int().min(0).default(30_000),
  /**
   * A filtered vector search whose filter matches at most this many rows is answered by exact
   * search: scanning that few rows is both faster than walking the HNSW graph past non-matching
   * neighbours and exact. See packages/api/README.md.
   */
  exactSearchMaxRows: z.number().int().min(0).default(5_000),
  /**
   * A collection's HNSW index holding at least this many rows has the ef_search its searches use
   * measured on its own data, in the background (see packages/api/README.md, "ef_search"); smaller
   * ones use the size rule.
   */
  efCalibrationMinRows: z.number().int().min(0).default(10_000),
  /**
   * Characters of each document's content in list and search results: a prefix, with
   * `contentTruncated` and the whole `contentLength`; `documents.get` returns the whole content.
   */
  contentPreviewChars: z.number().int().min(1).max(HARD_LIMITS.contentChars).default(4_000),
  /** Serialized size of one request's results (all calls of a batch together); past it, a 400 RESPONSE_TOO_LARGE. */
  maxResponseBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .default(16 * 1024 * 1024),
});
export type Limits = z.infer<typeof limitsSchema>;
export const defaultLimits: Limits = limitsSchema.parse({});
