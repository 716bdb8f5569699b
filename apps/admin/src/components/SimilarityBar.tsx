import { formatScore } from '../lib/format';

/**
 * Similarity as a bar and its number. The bar spans [0, 1], where cosine and L2 similarities
 * live; values outside (negative cosine, large inner products) are clamped for the bar only.
 */
export function SimilarityBar({
  similarity,
  label = 'similarity',
}: {
  similarity: number | null;
  label?: string;
}) {
  if (similarity === null)
    return <span className="text-xs text-muted-foreground">no vector score</span>;
  const width = Math.max(0, Math.min(1, similarity)) * 100;
  return (
    <span className="inline-flex items-center gap-2" title={`${label} ${similarity}`}>
      <span className="h-2 w-20 overflow-hidden rounded-full bg-muted sm:w-28" aria-hidden="true">
        <span className="block h-full bg-primary" style={{ width: `${width}%` }} />
      </span>
      <span
        className="similarity-value font-mono text-sm tabular-nums"
        aria-label={`${label} ${formatScore(similarity)}`}
      >
        {formatScore(similarity)}
      </span>
    </span>
  );
}
