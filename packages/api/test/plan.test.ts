import { describe, expect, it, vi } from 'vitest';
import type { Collection } from '@quarry/db';
import { calibrationKey } from '../src/search/ef-calibration';
import { searchInputSchema } from '../src/search/input';
import {
  approximationOf,
  DEFAULT_EF_SEARCH,
  estimatedSelectivity,
  exactRerunSettings,
  forgetProbe,
  hnswSettings,
  MAX_MAX_SCAN_TUPLES,
  MAX_SCALED_EF_SEARCH,
  maxScanTuplesFor,
  MIN_MAX_SCAN_TUPLES,
  planByProbe,
  plannedEfSearch,
  planWithoutCounting,
  rememberedProbe,
  rememberedPlan,
  COUNTED_PROBE_FRESH_MS,
  BROAD_PROBE_FRESH_MS,
  rememberProbe,
  SELECTIVITY_SAMPLE_ROWS,
} from '../src/search/plan';

/** A vector search request as the edge schema leaves it. */
function input(fields: Record<string, unknown> = {}) {
  return searchInputSchema.parse({ collection: 'c', vector: [1, 0], ...fields });
}

/** A full sample where `share` of the rows pass. */
function sampleOf(share: number) {
  return {
    sampledRows: SELECTIVITY_SAMPLE_ROWS,
    sampledPassing: Math.round(share * SELECTIVITY_SAMPLE_ROWS),
  };
}

/** A full sample where `share` of the rows pass, and the rows counted (null: not counted). */
function probeOf(share: number, matchedRows: number | null) {
  return { ...sampleOf(share), matchedRows };
}

describe('ef_search by the rule', () => {
  it('is the default for a few unrestricted candidates, and twice the candidates past it', () => {
    expect(plannedEfSearch(10, 1)).toBe(DEFAULT_EF_SEARCH);
    expect(plannedEfSearch(80, 1)).toBe(160);
    expect(plannedEfSearch(200, 1)).toBe(400);
  });

  it('widens as fewer rows pass the restrictions: about twice the wanted rows that pass', () => {
    expect(plannedEfSearch(10, 0.5)).toBe(DEFAULT_EF_SEARCH);
    expect(plannedEfSearch(10, 0.1)).toBe(200);
    expect(plannedEfSearch(10, 0.08)).toBe(250);
  });

  it('widens with the collection: one per 250 rows past the default', () => {
    expect(plannedEfSearch(10, 1, 20_000)).toBe(DEFAULT_EF_SEARCH);
    expect(plannedEfSearch(10, 1, 50_000)).toBe(200);
    expect(plannedEfSearch(10, 1, 100_000)).toBe(400);
    expect(plannedEfSearch(10, 1, 10_000_000)).toBe(MAX_SCALED_EF_SEARCH);
  });

  it('stops widening for selectivity at MAX_SCALED_EF_SEARCH, and at 1,000 in all', () => {
    expect(plannedEfSearch(10, 0.01)).toBe(MAX_SCALED_EF_SEARCH);
    expect(plannedEfSearch(300, 0.01)).toBe(600);
    expect(plannedEfSearch(800, 0.5)).toBe(1000);
  });

  it('is as asked when the request names one, but never below the candidates wanted', () => {
    const unrestricted = planWithoutCounting(input({ efSearch: 40 }), false, 10, null);
    expect(unrestricted?.efSearch).toBe(40);
    expect(planWithoutCounting(input({ efSearch: 40 }), false, 60, null)?.efSearch).toBe(60);
  });
});

describe('hnsw.max_scan_tuples by the rule', () => {
  it("is pgvector's default unless four candidate lists' worth of passing rows need more", () => {
    expect(maxScanTuplesFor(100, 0.5)).toBe(MIN_MAX_SCAN_TUPLES);
    expect(maxScanTuplesFor(400, 0.01)).toBe(160_000);
    expect(maxScanTuplesFor(1000, 0.0005)).toBe(MAX_MAX_SCAN_TUPLES);
  });
});

describe('estimated selectivity', () => {
  it('is the share of the sample that passes', () => {
    expect(estimatedSelectivity(sampleOf(0.09))).toBeCloseTo(0.09);
  });

  it('is exact when the sample is the whole collection (fewer rows than a full sample)', () => {
    expect(estimatedSelectivity({ sampledRows: 400, sampledPassing: 0 })).toBe(0);
    expect(estimatedSelectivity({ sampledRows: 400, sampledPassing: 100 })).toBe(0.25);
  });

  it('stays above zero when none of a full sample passes (the matching rows lie elsewhere)', () => {
    expect(estimatedSelectivity(sampleOf(0))).toBe(0.5 / SELECTIVITY_SAMPLE_ROWS);
  });
});

describe('the plan', () => {
  it("plans by the collection's size when it is known", () => {
    expect(planWithoutCounting(input(), false, 10, 50_000)?.efSearch).toBe(200);
    const counted = planByProbe(input(), 10, probeOf(0.5, 652), 50_000, 651);
    expect(counted.efSearch).toBe(200);
  });

  it("plans from the collection's calibration, with its margin, in place of its size", () => {
    const calibration = (efSearch: number, met = true) => ({
      efSearch,
      met,
      recall: met ? 0.99 : 0.9,
      minRecall: 0.8,
      queries: 16,
    });
    // An easy index at 50,000 rows searches narrower than the size rule's 200, a hard one wider.
    const easy = planWithoutCounting(input(), false, 10, 50_000, calibration(40))!;
    expect(easy.efSearch).toBe(100);
    expect(easy.reason).toMatch(
      /\(calibrated: this index reached recall@10 0\.990, lowest 0\.80, at ef_search 40 over 16 calibration queries; planned at 2\.5x\)$/,
    );
    expect(planWithoutCounting(input(), false, 10, 50_000, calibration(100))!.efSearch).toBe(250);
    const short = planWithoutCounting(input(), false, 10, 20_000, calibration(160, false))!;
    expect(short.efSearch).toBe(400);
    expect(short.reason).toMatch(/, below the calibration target; planned at 2\.5x\)$/);
    // Candidates and selectivity still widen it; a request's own ef_search still wins.
    expect(planWithoutCounting(input(), false, 60, 50_000, calibration(40))!.efSearch).toBe(120);
    const filtered = planByProbe(input(), 10, probeOf(0.05, null), 50_000, 651, calibration(40));
    expect(filtered.efSearch).toBe(400);
    const asked = planWithoutCounting(input({ efSearch: 50 }), false, 10, 50_000, calibration(40))!;
    expect(asked.efSearch).toBe(50);
    expect(asked.reason).not.toMatch(/calibrated/);
  });

  it('answers an unrestricted query from the HNSW index without counting', () => {
    const plan = planWithoutCounting(input(), false, 10, null);
    expect(plan).toMatchObject({ strategy: 'hnsw', efSearch: 100, selectivity: 1 });
    expect(planWithoutCounting(input(), true, 10, null)).toBeUndefined();
  });

  it('scans at most the cutoff exactly, and walks the index iteratively past it', () => {
    const few = planByProbe(input(), 10, probeOf(0.013, 651), null, 651);
    expect(few.strategy).toBe('exact');
    const many = planByProbe(input(), 10, probeOf(0.09, 652), null, 651);
    expect(many).toMatchObject({
      strategy: 'hnsw_iterative',
      efSearch: 223,
      maxScanTuples: 20_000,
    });
    expect(hnswSettings(many)).toMatchObject({
      'hnsw.ef_search': '223',
      'hnsw.iterative_scan': 'relaxed_order',
      'hnsw.max_scan_tuples': '20000',
    });
  });

  it('walks the index when the sample promised too many rows to count', () => {
    const uncounted = planByProbe(input(), 10, probeOf(0.1, null), 50_000, 651);
    expect(uncounted).toMatchObject({
      strategy: 'hnsw_iterative',
      matchedRows: null,
      matchedRowsCappedAt: null,
      selectivity: 0.1,
    });
    expect(uncounted.reason).toMatch(/about 10 % of the 50000 rows, not counted/);
  });

  it('keeps an HNSW retrieval on the index: no sort, no sequential or bitmap scan, no generic plan, no JIT', () => {
    for (const plan of [
      planWithoutCounting(input(), false, 10, null)!,
      planByProbe(input(), 10, probeOf(0.09, 652), null, 651),
    ]) {
      expect(hnswSettings(plan)).toMatchObject({
        enable_seqscan: 'off',
        enable_bitmapscan: 'off',
        enable_sort: 'off',
        plan_cache_mode: 'force_custom_plan',
        jit: 'off',
      });
    }
    // The exact re-run after it turns back on what an exact scan needs.
    expect(exactRerunSettings).toEqual({
      enable_seqscan: 'on',
      enable_bitmapscan: 'on',
      enable_sort: 'on',
    });
  });

  it('gives a selective iterative scan a wider list and more tuples than a broad one', () => {
    const counted = (share: number) => planByProbe(input(), 10, probeOf(share, 652), null, 651);
    const broad = counted(0.5);
    const narrow = counted(0.02);
    expect(narrow.efSearch).toBeGreaterThan(broad.efSearch);
    expect(narrow.maxScanTuples).toBeGreaterThan(broad.maxScanTuples ?? 0);
  });
});

describe('approximate answers', () => {
  it('are those of the index; an exact scan is not approximate', () => {
    expect(approximationOf(planWithoutCounting(input(), false, 10, null)!)).toMatch(/approximate/);
    expect(
      approximationOf(planWithoutCounting(input({ exact: true }), false, 10, null)!),
    ).toBeNull();
  });

  it('say when the request asked for a narrower ef_search than planned', () => {
    const asked = planWithoutCounting(input({ efSearch: 40 }), false, 10, null)!;
    expect(approximationOf(asked)).toMatch(/ef_search 40 was asked, below the planned 100/);
    const wider = planWithoutCounting(input({ efSearch: 200 }), false, 10, null)!;
    expect(approximationOf(wider)).not.toMatch(/below the planned/);
  });
});

describe('the calibration of a collection', () => {
  it('is measured again for new HNSW parameters, or a size a fifth away, not for a few rows', () => {
    const collection = {
      id: 7,
      dimensions: 1536,
      metric: 'cosine',
      hnswM: 16,
      hnswEfConstruction: 64,
    } as Collection;
    const key = calibrationKey(collection, 50_000);
    expect(calibrationKey(collection, 50_500)).toBe(key);
    expect(calibrationKey(collection, 60_000)).not.toBe(key);
    expect(calibrationKey(collection, 41_000)).not.toBe(key);
    expect(calibrationKey({ ...collection, hnswM: 24 }, 50_000)).not.toBe(key);
    expect(calibrationKey({ ...collection, id: 8 }, 50_000)).not.toBe(key);
  });
});

describe('restriction probes remembered', () => {
  it('gives back a probe, counted or not, on the same database only', () => {
    const database = {};
    rememberProbe(database, 'even', probeOf(0.5, null));
    rememberProbe(database, 'rare', probeOf(0.01, 10));
    expect(rememberedProbe(database, 'even')).toEqual(probeOf(0.5, null));
    expect(rememberedProbe(database, 'rare')).toEqual(probeOf(0.01, 10));
    expect(rememberedProbe({}, 'even')).toBeUndefined();
    expect(rememberedProbe(database, 'odd')).toBeUndefined();
  });

  it('keeps a count for seconds and a broad sample for a minute, and forgets on request', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const database = {};
      rememberProbe(database, 'even', probeOf(0.5, null));
      rememberProbe(database, 'rare', probeOf(0.01, 10));
      vi.advanceTimersByTime(COUNTED_PROBE_FRESH_MS + 1);
      expect(rememberedProbe(database, 'rare')).toBeUndefined();
      expect(rememberedProbe(database, 'even')).toEqual(probeOf(0.5, null));
      vi.advanceTimersByTime(BROAD_PROBE_FRESH_MS);
      expect(rememberedProbe(database, 'even')).toBeUndefined();
      rememberProbe(database, 'even', probeOf(0.5, null));
      forgetProbe(database, 'even');
      expect(rememberedProbe(database, 'even')).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('says which kind of remembered probe a plan came from', () => {
    const rare = probeOf(0.01, 10);
    expect(rememberedPlan(planByProbe(input(), 10, rare, 50_000, 651), rare).reason).toMatch(
      /\(counted by a search of the last 10 s\)$/,
    );
    const even = probeOf(0.5, null);
    expect(rememberedPlan(planByProbe(input(), 10, even, 50_000, 651), even).reason).toMatch(
      /\(sampled by a search of the last minute\)$/,
    );
  });
});
