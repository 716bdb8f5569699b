import { useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { saveApiKey, useApiKey } from '../lib/api-key';

/** The API key this browser sends; kept in localStorage, never in URLs. */
export function ApiKeyField() {
  const apiKey = useApiKey();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const inputId = useId();

  const apply = (key: string | undefined) => {
    saveApiKey(key);
    setEditing(false);
    // Everything shown so far was fetched with the old key.
    void queryClient.invalidateQueries();
  };

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = new FormData(event.currentTarget).get('apiKey');
    apply(typeof value === 'string' ? value : undefined);
  };

  if (!editing) {
    return (
      <div className="api-key">
        <button
          type="button"
          className="link-button"
          onClick={() => setEditing(true)}
          aria-label={apiKey ? 'Change API key' : 'Enter API key'}
        >
          API key: {apiKey ? `••••${apiKey.slice(-4)}` : 'none'}
        </button>
      </div>
    );
  }
  return (
    <form className="api-key api-key-form" onSubmit={onSubmit}>
      <label htmlFor={inputId}>API key</label>
      <input
        id={inputId}
        name="apiKey"
        type="password"
        autoComplete="off"
        defaultValue={apiKey ?? ''}
        autoFocus
        placeholder="sent as Authorization: Bearer"
      />
      <button type="submit">Save</button>
      {apiKey ? (
        <button type="button" onClick={() => apply(undefined)}>
          Forget
        </button>
      ) : null}
      <button type="button" className="link-button" onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}
