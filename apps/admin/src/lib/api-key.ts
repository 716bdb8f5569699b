import { useSyncExternalStore } from 'react';

const STORAGE_KEY = 'quarry.apiKey';
const listeners = new Set<() => void>();

/** The API key kept in this browser, or undefined when none was entered. */
export function readApiKey(): string | undefined {
  try {
    return window.localStorage.getItem(STORAGE_KEY) || undefined;
  } catch {
    // Storage can be disabled (private mode, policies); then the dashboard runs without a key.
    return undefined;
  }
}

export function saveApiKey(key: string | undefined): void {
  const trimmed = key?.trim();
  try {
    if (trimmed) window.localStorage.setItem(STORAGE_KEY, trimmed);
    else window.localStorage.removeItem(STORAGE_KEY);
  } finally {
    listeners.forEach((listener) => listener());
  }
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // Another tab changing the key changes it here too.
  const onStorage = (event: StorageEvent) => {
    if (event.key === STORAGE_KEY) listener();
  };
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

export function useApiKey(): string | undefined {
  return useSyncExternalStore(subscribe, readApiKey, () => undefined);
}
