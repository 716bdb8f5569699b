/**
 * Values that tune a search (a collection's size, a sample of its rows), read from the database in
 * the background and kept per database and key, so that no search waits for them: `current`
 * answers the last value read (null before the first read ends) and starts a read when there is
 * none yet or the value is older than `freshMs`. A failed read keeps the previous value and is
 * tried again after `retryMs`. At most `maxKeys` keys are kept per database (the oldest goes).
 */
export interface BackgroundCache<T> {
  current(database: object, key: string, read: () => Promise<T | null>): T | null;
  /** Resolves once every read started on `database` has ended (for tests). */
  settled(database: object): Promise<void>;
}

interface Entry<T> {
  value: T | null;
  /** When the last read ended (performance.now()). */
  readAt: number;
  failed: boolean;
  reading: Promise<void> | null;
}

export function backgroundCache<T>(options: {
  freshMs: number;
  retryMs: number;
  maxKeys: number;
}): BackgroundCache<T> {
  const byDatabase = new WeakMap<object, Map<string, Entry<T>>>();
  return {
    current(database, key, read) {
      let entries = byDatabase.get(database);
      if (!entries) byDatabase.set(database, (entries = new Map<string, Entry<T>>()));
      let entry = entries.get(key);
      if (!entry) {
        if (entries.size >= options.maxKeys) entries.delete(entries.keys().next().value!);
        entry = { value: null, readAt: -Infinity, failed: false, reading: null };
        entries.set(key, entry);
      }
      const age = performance.now() - entry.readAt;
      if (!entry.reading && age > (entry.failed ? options.retryMs : options.freshMs)) {
        const reading = entry;
        reading.reading = Promise.resolve()
          .then(read)
          .then(
            (value) => {
              reading.value = value;
              reading.failed = false;
            },
            () => {
              reading.failed = true;
            },
          )
          .finally(() => {
            reading.readAt = performance.now();
            reading.reading = null;
          });
      }
      return entry.value;
    },
    async settled(database) {
      for (const entry of byDatabase.get(database)?.values() ?? []) await entry.reading;
    },
  };
}
