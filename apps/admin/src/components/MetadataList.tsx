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
  if (entries.length === 0) return <p className="text-sm text-muted-foreground">No metadata.</p>;
  return (
    <ul className="flex flex-wrap gap-1.5" aria-label="metadata">
      {entries.map(([key, value]) => (
        <li
          key={key}
          className="metadata-entry inline-flex max-w-full items-center overflow-hidden rounded-md border text-xs"
        >
          <span className="bg-muted px-1.5 py-0.5 text-muted-foreground">{key}</span>
          <span className="metadata-value truncate px-1.5 py-0.5">{formatValue(value)}</span>
          {action?.(key, value)}
        </li>
      ))}
    </ul>
  );
}
