import type { ReactNode } from 'react';

function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Metadata as key: value chips; `action` renders an optional control per entry. */
export function MetadataList({
  metadata,
  action,
}: {
  metadata: Record<string, unknown>;
  action?: (key: string, value: unknown) => ReactNode;
}) {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return <p className="muted">No metadata.</p>;
  return (
    <ul className="metadata" aria-label="metadata">
      {entries.map(([key, value]) => (
        <li key={key} className="metadata-entry">
          <span className="metadata-key">{key}</span>
          <span className="metadata-value">{formatValue(value)}</span>
          {action?.(key, value)}
        </li>
      ))}
    </ul>
  );
}
