import type { ReactNode } from 'react';
import { explainError } from '../lib/errors';
import { Button } from './ui/button';

export function Loading({ what }: { what: string }) {
  return (
    <p
      className="flex items-center gap-2 text-sm text-muted-foreground"
      role="status"
      aria-live="polite"
    >
      <span
        className="size-4 animate-spin rounded-full border-2 border-muted-foreground/30 border-t-primary"
        aria-hidden="true"
      />{' '}
      Loading {what}…
    </p>
  );
}

/** Nothing to show, and what to do about it. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed p-4 text-sm" role="status">
      <p className="font-medium">{title}</p>
      {children ? <div className="mt-1 text-muted-foreground">{children}</div> : null}
    </div>
  );
}

export function ErrorState({
  error,
  action,
  onRetry,
}: {
  error: unknown;
  action: string;
  onRetry?: () => void;
}) {
  const explained = explainError(error);
  const fields = Object.entries(explained.fieldErrors);
  return (
    <div
      className="space-y-2 rounded-lg border border-destructive/40 bg-destructive/5 p-4 text-sm break-words"
      role="alert"
    >
      <p className="flex flex-wrap items-center gap-2 font-medium">
        Could not {action}
        {explained.code ? (
          <code className="rounded bg-destructive/10 px-1 text-destructive">{explained.code}</code>
        ) : null}
      </p>
      <p>{explained.message}</p>
      {fields.length > 0 ? (
        <ul className="list-disc pl-5">
          {fields.map(([field, messages]) => (
            <li key={field}>
              <code>{field}</code>: {messages.join('; ')}
            </li>
          ))}
        </ul>
      ) : null}
      {explained.hint ? <p className="text-muted-foreground">{explained.hint}</p> : null}
      {onRetry ? (
        <Button variant="outline" size="sm" onClick={onRetry}>
          Try again
        </Button>
      ) : null}
    </div>
  );
}

/** A field's problem, tied to it with aria-describedby. */
export function FieldError({ id, children }: { id?: string; children: ReactNode }) {
  return (
    <p className="text-xs text-destructive" id={id}>
      {children}
    </p>
  );
}
