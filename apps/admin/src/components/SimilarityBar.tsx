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
    return <span className="similarity similarity-none">no vector score</span>;
  const width = Math.max(0, Math.min(1, similarity)) * 100;
  return (
    <span className="similarity" title={`${label} ${similarity}`}>
      <span className="similarity-track" aria-hidden="true">
        <span className="similarity-fill" style={{ width: `${width}%` }} />
      </span>
      <span className="similarity-value" aria-label={`${label} ${formatScore(similarity)}`}>
        {formatScore(similarity)}
      </span>
    </span>
  );
}
