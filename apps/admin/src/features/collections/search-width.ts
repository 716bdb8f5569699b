import type { RouterOutputs } from '@quarry/api';
import { formatCount } from '../../lib/format';

export type SearchWidth = NonNullable<RouterOutputs['collections']['get']['searchWidth']>;

/**
 * How wide an unfiltered search walks the HNSW index (ef_search) and why, in a sentence: the
 * index's measured recall once it is calibrated, else the collection's size, and when a
 * calibration is still to come.
 */
export function describeSearchWidth(width: SearchWidth): string {
  const { k, efSearch, collectionRows, calibration, calibratedRows, planned } = width;
  const head = `ef_search ${efSearch} for ${k} results`;
  if (calibration) {
    const target = calibration.met ? '' : ', below the calibration target';
    return `${head}: this index reached recall@${k} ${calibration.recall.toFixed(3)} (lowest ${calibration.minRecall.toFixed(2)}) at ef_search ${calibration.efSearch} over ${calibration.queries} calibration queries${target}; searches use ${planned.margin}× that, at least ${planned.atLeast}`;
  }
  if (collectionRows === null) return `${head}: the collection's size is not known yet`;
  const calibrated = collectionRows >= calibratedRows.min && collectionRows <= calibratedRows.max;
  const pending = calibrated
    ? 'its recall is measured in the background after the first searches'
    : `indexes of ${formatCount(calibratedRows.min)} to ${formatCount(calibratedRows.max)} rows are calibrated`;
  return `${head}, by the collection's size (about ${formatCount(collectionRows)} rows); ${pending}`;
}
