import { z } from 'zod';
import type { RouterInputs } from '@quarry/api';
import { metadataFilterSchema } from './filter/filter-schema';

type SearchQueryInput = RouterInputs['search']['query'];
export type SearchMode = NonNullable<SearchQueryInput['mode']>;

export const searchModes = ['vector', 'keyword', 'hybrid'] as const satisfies readonly SearchMode[];

/** What the vector side of the query is made from. */
export const querySources = ['text', 'vector', 'document'] as const;
export type QuerySource = (typeof querySources)[number];

/** The dashboard never asks for more: the server's default `maxK` is 200. */
export const MAX_K = 200;

/**
 * Everything a search is, kept in the URL so a link reproduces it. Each field falls back to its
 * default when a hand-edited link holds something invalid, instead of failing the whole page.
 */
export const searchStateSchema = z.object({
  text: z.string().max(4000).default('').catch(''),
  source: z.enum(querySources).default('text').catch('text'),
  /** The pasted query vector, used when source is "vector". */
  vector: z.array(z.number()).min(1).max(16_000).optional().catch(undefined),
  /** The document whose vector is the query, used when source is "document". */
  like: z.uuid().optional().catch(undefined),
  mode: z.enum(searchModes).default('vector').catch('vector'),
  k: z.int().min(1).max(MAX_K).default(10).catch(10),
  minSimilarity: z.number().min(-1e6).max(1e6).optional().catch(undefined),
  efSearch: z.int().min(1).max(1000).optional().catch(undefined),
  tenant: z.string().min(1).max(128).optional().catch(undefined),
  filter: metadataFilterSchema.optional().catch(undefined),
  vectorWeight: z.number().min(0).max(100).default(1).catch(1),
  keywordWeight: z.number().min(0).max(100).default(1).catch(1),
  rrfK: z.int().min(1).max(10_000).default(60).catch(60),
});
export type SearchState = z.infer<typeof searchStateSchema>;

/** The defaults, left out of URLs so links stay short. */
export const defaultSearchState: SearchState = searchStateSchema.parse({});

/** The Explain page: the same query, plus what to inspect. */
export const explainStateSchema = searchStateSchema.extend({
  /** "Why not document X?": the id asked about. */
  inspect: z.uuid().optional().catch(undefined),
  /** How many nearest results the similarity histogram covers. */
  histogramSize: z.int().min(10).max(MAX_K).default(100).catch(100),
});
export type ExplainState = z.infer<typeof explainStateSchema>;
export const defaultExplainState: ExplainState = explainStateSchema.parse({});

/** The query parameters of a search state, for links between pages that share the query. */
export function pickSearchState(state: SearchState): SearchState {
  return searchStateSchema.parse(state);
}

export type QueryPlan = { ok: true; input: SearchQueryInput } | { ok: false; missing: string };

/**
 * The API input for a state, or what is missing before it can run. The vector side comes from
 * the text, the pasted vector or a document; keyword and hybrid search always need text.
 */
export function toSearchInput(collection: string, state: SearchState): QueryPlan {
  const text = state.text.trim();
  const needsText = state.mode !== 'vector';
  if (needsText && !text)
    return { ok: false, missing: `${state.mode} search needs query text: type what to look for` };
  const base: SearchQueryInput = {
    collection,
    mode: state.mode,
    k: state.k,
    ...(text ? { text } : {}),
    ...(state.filter ? { filter: state.filter } : {}),
    ...(state.tenant ? { tenant: state.tenant } : {}),
    ...(state.efSearch !== undefined ? { efSearch: state.efSearch } : {}),
    ...(state.mode === 'hybrid'
      ? {
          hybrid: {
            vectorWeight: state.vectorWeight,
            keywordWeight: state.keywordWeight,
            rrfK: state.rrfK,
          },
        }
      : {}),
  };
  const usesVector = state.mode !== 'keyword';
  if (usesVector) {
    if (state.source === 'vector') {
      if (!state.vector)
        return {
          ok: false,
          missing: 'paste a query vector: numbers separated by commas or spaces',
        };
      base.vector = state.vector;
    } else if (state.source === 'document') {
      if (!state.like) return { ok: false, missing: 'choose a document to find more like it' };
      base.likeDocumentId = state.like;
    } else if (!text) {
      return { ok: false, missing: 'type a query to search for' };
    }
    // The threshold is on vector similarity, which keyword-only search does not compute.
    if (state.minSimilarity !== undefined) base.minSimilarity = state.minSimilarity;
  }
  return { ok: true, input: base };
}

/**
 * A pasted vector: JSON (`[0.1, 0.2]`) or numbers separated by commas, spaces or new lines.
 * Returns a message instead when any part is not a finite number.
 */
export function parseVectorText(
  text: string,
): { ok: true; vector: number[] } | { ok: false; message: string } {
  const body = text.trim().replace(/^\[/, '').replace(/\]$/, '');
  const parts = body.split(/[\s,]+/).filter((part) => part.length > 0);
  if (parts.length === 0) return { ok: false, message: 'the vector is empty: paste its numbers' };
  const vector: number[] = [];
  for (const [index, part] of parts.entries()) {
    const value = Number(part);
    if (!Number.isFinite(value))
      return { ok: false, message: `item ${index + 1} ("${part.slice(0, 20)}") is not a number` };
    vector.push(value);
  }
  return { ok: true, vector };
}
