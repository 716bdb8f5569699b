import { useRef, useState } from 'react';

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
  const own = useRef<string | undefined>(undefined);
  const [key, setKey] = useState(serialized);
  if (serialized !== key && serialized !== own.current) setKey(serialized);
  return {
    key,
    noteOwnChange: (state) => {
      own.current = JSON.stringify(state);
    },
  };
}
