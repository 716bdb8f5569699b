import type { ReactNode } from 'react';
import { explainError } from '../lib/errors';

export function Loading({ what }: { what: string }) {
  return (
    <p className="status status-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

/** Nothing to show, and what to do about it. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="status status-empty" role="status">
      <p className="status-title">{title}</p>
      {children ? <div className="status-body">{children}</div> : null}
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
    <div className="status status-error" role="alert">
      <p className="status-title">
        Could not {action}
        {explained.code ? <code className="error-code">{explained.code}</code> : null}
      </p>
      <p>{explained.message}</p>
      {fields.length > 0 ? (
        <ul>
          {fields.map(([field, messages]) => (
            <li key={field}>
              <code>{field}</code>: {messages.join('; ')}
            </li>
          ))}
        </ul>
      ) : null}
      {explained.hint ? <p className="status-hint">{explained.hint}</p> : null}
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
