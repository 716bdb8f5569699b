import { useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { Button } from '../components/ui/button';
import { Input } from '../components/ui/input';
import { Label } from '../components/ui/label';
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
      <Button
        variant="ghost"
        size="sm"
        onClick={() => setEditing(true)}
        aria-label={apiKey ? 'Change API key' : 'Enter API key'}
      >
        API key: {apiKey ? `••••${apiKey.slice(-4)}` : 'none'}
      </Button>
    );
  }
  return (
    <form className="flex flex-wrap items-center gap-2" onSubmit={onSubmit}>
      <Label htmlFor={inputId}>API key</Label>
      <Input
        id={inputId}
        name="apiKey"
        type="password"
        autoComplete="off"
        defaultValue={apiKey ?? ''}
        autoFocus
        placeholder="sent as Authorization: Bearer"
        className="w-56"
      />
      <Button type="submit" size="sm">
        Save
      </Button>
      {apiKey ? (
        <Button variant="outline" size="sm" onClick={() => apply(undefined)}>
          Forget
        </Button>
      ) : null}
      <Button variant="ghost" size="sm" onClick={() => setEditing(false)}>
        Cancel
      </Button>
    </form>
  );
}
