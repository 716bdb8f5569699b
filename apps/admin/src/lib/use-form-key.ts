import { useState } from 'react';

/**
 * A key for a form that edits state kept in the URL. It changes when the URL changes from outside
 * the form (back, forward, a link), so the form starts over from the new state; and stays when the
 * form itself wrote the URL, so focus and open panels survive running a query.
 */
export function useFormKey(urlState: unknown): {
  key: string;
  noteOwnChange: (state: unknown) => void;
} {
  const serialized = JSON.stringify(urlState);
  // State, not a ref: render reads it (React's rules), and it is set in the same event as the URL.
  const [own, setOwn] = useState<string>();
  const [key, setKey] = useState(serialized);
  if (serialized !== key && serialized !== own) setKey(serialized);
  return {
    key,
    noteOwnChange: (state) => {
      setOwn(JSON.stringify(state));
    },
  };
}
