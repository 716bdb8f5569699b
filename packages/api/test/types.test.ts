import { describe, expectTypeOf, it } from 'vitest';
import type { RouterInputs, RouterOutputs } from '../src/index';

/** What a client typed by AppRouter sees: these fail to compile (typecheck) if the API drifts. */
describe('client-facing types', () => {
  it('search results carry scores, ranks and content', () => {
    type Result = RouterOutputs['search']['query']['results'][number];
    expectTypeOf<Result['id']>().toEqualTypeOf<string>();
    expectTypeOf<Result['similarity']>().toEqualTypeOf<number | null>();
    expectTypeOf<Result['distance']>().toEqualTypeOf<number | null>();
    expectTypeOf<Result['vectorRank']>().toEqualTypeOf<number | null>();
    expectTypeOf<Result['keywordRank']>().toEqualTypeOf<number | null>();
    expectTypeOf<Result['score']>().toEqualTypeOf<number>();
    expectTypeOf<Result['createdAt']>().toEqualTypeOf<string>();
  });

  it('search stats say how the query was answered', () => {
    type Stats = RouterOutputs['search']['query']['stats'];
    expectTypeOf<Stats['strategy']>().toEqualTypeOf<'hnsw' | 'hnsw_iterative' | 'exact' | null>();
    expectTypeOf<Stats['fewerThanK']>().toEqualTypeOf<boolean>();
    expectTypeOf<Stats['tookMs']>().toEqualTypeOf<number>();
    expectTypeOf<Stats['approximate']>().toEqualTypeOf<boolean>();
    expectTypeOf<Stats['approximateReason']>().toEqualTypeOf<string | null>();
    expectTypeOf<Stats['exactFallback']>().toEqualTypeOf<boolean>();
    expectTypeOf<Stats['maxScanTuples']>().toEqualTypeOf<number | null>();
  });

  it('search input takes a mode, a typed filter and an optional vector (numbers or base64 float32)', () => {
    type Input = RouterInputs['search']['query'];
    expectTypeOf<Input['mode']>().toEqualTypeOf<'vector' | 'keyword' | 'hybrid' | undefined>();
    expectTypeOf<Input['vector']>().toEqualTypeOf<number[] | string | undefined>();
    expectTypeOf<{ key: 'year'; op: 'gte'; value: 1900 }>().toExtend<
      NonNullable<Input['filter']>
    >();
  });

  it('ingest returns ids, counts, the write strategy and what happened to the index', () => {
    expectTypeOf<RouterOutputs['documents']['ingest']>().toEqualTypeOf<{
      ids: string[];
      inserted: number;
      updated: number;
      unchanged: number;
      strategy: 'rows' | 'copy';
      index: { action: 'maintained' | 'deferred-rebuilt' | 'none'; ms: number };
    }>();
  });
});
