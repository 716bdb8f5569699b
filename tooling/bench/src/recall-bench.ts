import type { MetadataFilter } from '@quarry/api/filter';
import type { Corpus } from './corpus';
import { cosineDistances, exactTopK, recallAtK } from './exact';
import { vectorText } from './guide';
import { progress } from './log';
import { round, summarize } from './stats';

export const DEFAULT_EF_SEARCH = 40;
const K = 10;

export interface QueryFilter {
  /** Quarry's filter. */
  quarry: MetadataFilter;
  /** The guide's `metadata->>'key' = value`. */
  guide: { key: string; value: string };
  passes: (row: number) => boolean;
}

/** A kind of restriction: the same for every query (synthetic selectivities) or chosen per query (SOTU's president). */
export interface FilterCase {
  name: string;
  forQuery(query: number): QueryFilter | undefined;
}

export interface SearchSystems {
  quarry(
    vector: number[],
    filter: MetadataFilter | undefined,
    efSearch: number | undefined,
  ): Promise<{ externalIds: string[]; strategy: string | null }>;
  guide(
    vector: string,
    filter: { key: string; value: string } | undefined,
    efSearch: number | undefined,
  ): Promise<string[]>;
}

export type SystemName = 'quarry' | 'guide';

export interface RecallPoint {
  filter: string;
  system: SystemName;
  efSearch: number;
  /** Mean recall@10 against exact search, ties counted as hits. */
  recall: number;
  minRecall: number;
  /** Share of queries that returned fewer results than min(10, rows matching). */
  shortShare: number;
  p50Ms: number;
  p95Ms: number;
  /** Mean number of rows the filter matches. */
  meanMatching: number;
  /** Quarry's strategy per query (hnsw, hnsw_iterative, exact), counted. */
  strategies?: Record<string, number>;
}

/**
 * Filtered recall@10 against exact search (brute force over the float32 vectors, here in the
 * process), and the share of short results, for Quarry's search and the guide's query, at each
 * ef_search. The first ef_search is both systems' default, 40, with nothing set: the defaults.
 */
export async function benchRecall(
  label: string,
  corpus: Corpus,
  rowByExternalId: ReadonlyMap<string, number>,
  queryVectors: readonly Float32Array[],
  filters: readonly FilterCase[],
  systems: SearchSystems,
  efValues: readonly number[],
): Promise<RecallPoint[]> {
  progress(
    `recall (${label}): exact neighbours of ${queryVectors.length} queries over ${corpus.vectors.count} rows`,
  );
  const distances = queryVectors.map((vector) =>
    cosineDistances(corpus.vectors, corpus.norms, vector),
  );
  const queryArrays = queryVectors.map((vector) => Array.from(vector));
  const queryTexts = queryVectors.map((vector) => vectorText(vector));
  const points: RecallPoint[] = [];
  for (const filterCase of filters) {
    const perQuery = queryVectors.map((_, query) => {
      const filter = filterCase.forQuery(query);
      return { filter, exact: exactTopK(distances[query]!, K, filter?.passes) };
    });
    for (const system of ['quarry', 'guide'] as const) {
      for (const ef of efValues) {
        const efSearch = ef === DEFAULT_EF_SEARCH ? undefined : ef;
        const run = async (query: number) => {
          const { filter } = perQuery[query]!;
          if (system === 'quarry')
            return systems.quarry(queryArrays[query]!, filter?.quarry, efSearch);
          return {
            externalIds: await systems.guide(queryTexts[query]!, filter?.guide, efSearch),
            strategy: null,
          };
        };
        await run(0); // warm-up
        const latencies: number[] = [];
        const recalls: number[] = [];
        const strategies: Record<string, number> = {};
        let short = 0;
        for (let query = 0; query < queryVectors.length; query++) {
          const begin = performance.now();
          const result = await run(query);
          latencies.push(performance.now() - begin);
          const { exact } = perQuery[query]!;
          const rows = result.externalIds
            .map((id) => rowByExternalId.get(id) ?? -1)
            .filter((row) => row >= 0);
          recalls.push(recallAtK(distances[query]!, exact, rows, K));
          if (result.externalIds.length < Math.min(K, exact.matching)) short++;
          if (result.strategy) strategies[result.strategy] = (strategies[result.strategy] ?? 0) + 1;
        }
        const latency = summarize(latencies);
        const point: RecallPoint = {
          filter: filterCase.name,
          system,
          efSearch: ef,
          recall: round(recalls.reduce((sum, value) => sum + value, 0) / recalls.length, 4),
          minRecall: round(Math.min(...recalls), 2),
          shortShare: round(short / queryVectors.length, 3),
          p50Ms: round(latency.p50),
          p95Ms: round(latency.p95),
          meanMatching: round(
            perQuery.reduce((sum, { exact }) => sum + exact.matching, 0) / perQuery.length,
            0,
          ),
          ...(system === 'quarry' ? { strategies } : {}),
        };
        progress(
          `  ${filterCase.name} ${system} ef=${ef}: recall ${point.recall}, short ${point.shortShare}, p50 ${point.p50Ms} ms${system === 'quarry' ? ` ${JSON.stringify(strategies)}` : ''}`,
        );
        points.push(point);
      }
    }
  }
  return points;
}
