import type { ReactNode } from 'react';

/** A page's title, what it answers, and its actions (which wrap under it on a phone). */
export function PageHeader({
  title,
  description,
  actions,
}: {
  title: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <header className="mb-4 flex flex-wrap items-end justify-between gap-3">
      <div className="min-w-0">
        <h1>{title}</h1>
        {description ? <p className="mt-1 text-sm text-muted-foreground">{description}</p> : null}
      </div>
      {actions ? <div className="flex flex-wrap gap-2">{actions}</div> : null}
    </header>
  );
}

/** The query form beside its results on a wide screen, above them on a narrow one. */
export function Split({
  side,
  children,
  sideFirst = true,
}: {
  side: ReactNode;
  children: ReactNode;
  sideFirst?: boolean;
}) {
  return (
    <div
      className={
        sideFirst
          ? 'grid gap-4 lg:grid-cols-[minmax(20rem,26rem)_minmax(0,1fr)]'
          : 'grid gap-4 lg:grid-cols-[minmax(0,1fr)_minmax(18rem,24rem)]'
      }
    >
      {sideFirst ? (
        <>
          <aside className="min-w-0">{side}</aside>
          <div className="min-w-0 space-y-4">{children}</div>
        </>
      ) : (
        <>
          <div className="min-w-0 space-y-4">{children}</div>
          <aside className="min-w-0 space-y-4">{side}</aside>
        </>
      )}
    </div>
  );
}
