import type { ReactNode } from 'react';
import { cn } from '../lib/utils';

const tones = { good: 'text-good', warn: 'text-warn', bad: 'text-destructive' } as const;

/** One labelled figure in a definition list (a `Stats` grid). */
export function Stat({
  label,
  children,
  tone,
}: {
  label: string;
  children: ReactNode;
  tone?: keyof typeof tones;
}) {
  return (
    <div className="stat min-w-0">
      <dt className="text-xs text-muted-foreground">{label}</dt>
      <dd className={cn('text-sm font-medium break-words', tone && tones[tone])}>{children}</dd>
    </div>
  );
}

export function Stats({ children, className }: { children: ReactNode; className?: string }) {
  return (
    <dl className={cn('grid grid-cols-2 gap-x-4 gap-y-3 sm:grid-cols-3 lg:grid-cols-4', className)}>
      {children}
    </dl>
  );
}
