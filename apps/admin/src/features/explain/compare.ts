/** How an index-served result list differs from the exact one for the same query. */
export interface Comparison<T> {
  /** Share of the exact results that the index also returned; null when exact search found nothing. */
  recall: number | null;
  /** Exact results the index did not return, with their exact rank (1-based). */
  missed: Array<{ result: T; exactRank: number }>;
  /** Results the index returned that exact search ranks outside its list. */
  intruders: Array<{ result: T; indexRank: number }>;
  /** Results in both lists, with both ranks. */
  shared: Array<{ result: T; indexRank: number; exactRank: number }>;
}

export function compareWithExact<T extends { id: string }>(
  fromIndex: readonly T[],
  exact: readonly T[],
): Comparison<T> {
  const indexRanks = new Map(fromIndex.map((result, position) => [result.id, position + 1]));
  const exactRanks = new Map(exact.map((result, position) => [result.id, position + 1]));
  const missed: Comparison<T>['missed'] = [];
  const shared: Comparison<T>['shared'] = [];
  exact.forEach((result, position) => {
    const indexRank = indexRanks.get(result.id);
    if (indexRank === undefined) missed.push({ result, exactRank: position + 1 });
    else shared.push({ result, indexRank, exactRank: position + 1 });
  });
  const intruders = fromIndex.flatMap((result, position) =>
    exactRanks.has(result.id) ? [] : [{ result, indexRank: position + 1 }],
  );
  return {
    recall: exact.length === 0 ? null : shared.length / exact.length,
    missed,
    intruders,
    shared,
  };
}

export function formatRecall(recall: number | null): string {
  return recall === null ? '–' : `${(recall * 100).toFixed(recall === 1 ? 0 : 1)}%`;
}
