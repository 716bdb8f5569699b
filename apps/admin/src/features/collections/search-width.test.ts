import { describe, expect, it } from 'vitest';
import { describeSearchWidth, type SearchWidth } from './search-width';

const width = (fields: Partial<SearchWidth>): SearchWidth => ({
  k: 10,
  efSearch: 100,
  collectionRows: 50_000,
  calibration: null,
  calibratedRows: { min: 10_000, max: 200_000 },
  planned: { margin: 2.5, atLeast: 100 },
  ...fields,
});

describe('describeSearchWidth', () => {
  it("quotes the index's measured recall once it is calibrated", () => {
    const calibration = { efSearch: 40, met: true, recall: 0.99375, minRecall: 0.9, queries: 16 };
    expect(describeSearchWidth(width({ calibration }))).toBe(
      'ef_search 100 for 10 results: this index reached recall@10 0.994 (lowest 0.90) at ef_search 40 over 16 calibration queries; searches use 2.5× that, at least 100',
    );
    expect(
      describeSearchWidth(
        width({ efSearch: 400, calibration: { ...calibration, efSearch: 160, met: false } }),
      ),
    ).toContain('over 16 calibration queries, below the calibration target;');
  });

  it('says when the size decides, and whether a calibration is to come', () => {
    expect(describeSearchWidth(width({ efSearch: 200 }))).toMatch(
      /^ef_search 200 for 10 results, by the collection's size \(about 50,000 rows\); its recall is measured in the background/,
    );
    expect(describeSearchWidth(width({ collectionRows: 5_000 }))).toMatch(
      /indexes of 10,000 to 200,000 rows are calibrated$/,
    );
    expect(describeSearchWidth(width({ collectionRows: null }))).toBe(
      "ef_search 100 for 10 results: the collection's size is not known yet",
    );
  });
});
