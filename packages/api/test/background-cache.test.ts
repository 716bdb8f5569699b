import { describe, expect, it } from 'vitest';
import { backgroundCache } from '../src/search/background-cache';

const database = {};
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('backgroundCache', () => {
  it('answers null until the first read ends, then the value, read once while fresh', async () => {
    const cache = backgroundCache<number>({ freshMs: 60_000, retryMs: 60_000, maxKeys: 4 });
    let reads = 0;
    const read = () => Promise.resolve(++reads);
    expect(cache.current(database, 'a', read)).toBeNull();
    expect(cache.current(database, 'a', read)).toBeNull();
    await cache.settled(database);
    expect(cache.current(database, 'a', read)).toBe(1);
    expect(cache.current(database, 'a', read)).toBe(1);
    expect(reads).toBe(1);
  });

  it('reads a stale value again in the background, answering the old one meanwhile', async () => {
    const cache = backgroundCache<number>({ freshMs: 20, retryMs: 60_000, maxKeys: 4 });
    let reads = 0;
    const read = () => Promise.resolve(++reads);
    cache.current(database, 'a', read);
    await cache.settled(database);
    await wait(40);
    expect(cache.current(database, 'a', read)).toBe(1);
    await cache.settled(database);
    expect(cache.current(database, 'a', read)).toBe(2);
  });

  it('tries a failed first read again after retryMs, not freshMs', async () => {
    const cache = backgroundCache<number>({ freshMs: 60_000, retryMs: 20, maxKeys: 4 });
    let reads = 0;
    let fail = true;
    const read = () => (++reads, fail ? Promise.reject(new Error('down')) : Promise.resolve(7));
    cache.current(database, 'a', read);
    await cache.settled(database);
    expect(cache.current(database, 'a', read)).toBeNull();
    expect(reads).toBe(1);
    await wait(40);
    fail = false;
    cache.current(database, 'a', read);
    await cache.settled(database);
    expect(cache.current(database, 'a', read)).toBe(7);
    expect(reads).toBe(2);
  });

  it('keeps the last value when a later read fails', async () => {
    const cache = backgroundCache<number>({ freshMs: 20, retryMs: 60_000, maxKeys: 4 });
    let fail = false;
    const read = () => (fail ? Promise.reject(new Error('down')) : Promise.resolve(7));
    cache.current(database, 'a', read);
    await cache.settled(database);
    await wait(40);
    fail = true;
    expect(cache.current(database, 'a', read)).toBe(7);
    await cache.settled(database);
    expect(cache.current(database, 'a', read)).toBe(7);
  });

  it('keeps at most maxKeys keys per database, dropping the oldest', async () => {
    const cache = backgroundCache<string>({ freshMs: 60_000, retryMs: 60_000, maxKeys: 2 });
    const reads: string[] = [];
    const reader = (key: string) => () => (reads.push(key), Promise.resolve(key));
    for (const key of ['a', 'b', 'c']) cache.current(database, key, reader(key));
    await cache.settled(database);
    expect(cache.current(database, 'c', reader('c'))).toBe('c');
    expect(cache.current(database, 'b', reader('b'))).toBe('b');
    expect(cache.current(database, 'a', reader('a'))).toBeNull();
    await cache.settled(database);
    expect(reads).toEqual(['a', 'b', 'c', 'a']);
    // Each database has its own keys.
    expect(cache.current({}, 'b', reader('b'))).toBeNull();
  });
});
