import type { ReactNode } from 'react';

/** One labelled figure in a definition list. */
export function Stat({
  label,
  children,
  tone,
}: {
  label: string;
  children: ReactNode;
  tone?: 'good' | 'warn' | 'bad';
}) {
  return (
    <div className={`stat${tone ? ` stat-${tone}` : ''}`}>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
