import { describe, expect, it } from 'vitest';
import { rebuildCost } from './rebuild-cost';

describe('rebuildCost', () => {
  const base = {
    documents: 10_000,
    dimensions: 100,
    vectorBytesPerDimension: 4,
    current: { m: 16, efConstruction: 64 },
  };

  it('scales the current index by the per-element bytes under the new m', () => {
    const same = rebuildCost({ ...base, currentIndexBytes: 8_000_000, next: base.current });
    expect(same.estimatedIndexBytes).toBe(8_000_000);
    const denser = rebuildCost({
      ...base,
      currentIndexBytes: 8_000_000,
      next: { m: 32, efConstruction: 64 },
    });
    // 432 + 256 = 688 bytes per element before, 432 + 512 = 944 after.
    expect(denser.estimatedIndexBytes).toBe(Math.round((8_000_000 * 944) / 688));
  });

  it('computes the size from the rows when there is no index yet', () => {
    const cost = rebuildCost({ ...base, currentIndexBytes: null, next: base.current });
    expect(cost.estimatedIndexBytes).toBe(10_000 * 688);
    expect(cost.vectors).toBe(10_000);
  });

  it('reports the build work from ef_construction', () => {
    const cost = rebuildCost({
      ...base,
      currentIndexBytes: null,
      next: { m: 16, efConstruction: 256 },
    });
    expect(cost.buildWorkRatio).toBe(4);
  });
});
