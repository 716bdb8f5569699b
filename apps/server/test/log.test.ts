import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, limitRepeats } from '../src/log';

function capture() {
  const records: Array<Record<string, unknown>> = [];
  const log = createLogger({
    format: 'json',
    write: (line) => records.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { log, records };
}

describe('limitRepeats', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the first lines of a key in each window, then one record counting the rest when the window ends', () => {
    const { log, records } = capture();
    const repeatable = limitRepeats(log, { limit: 3, windowMs: 1_000 });
    for (let i = 0; i < 1_000; i++) repeatable('info', 'request aborted', 'request', { i });
    expect(records.map((r) => r.msg)).toEqual(['request', 'request', 'request']);
    vi.advanceTimersByTime(1_000);
    expect(records).toHaveLength(4);
    expect(records[3]).toMatchObject({
      level: 'info',
      msg: 'suppressed 997 similar lines',
      key: 'request aborted',
      suppressed: 997,
      logged: 3,
    });
    // A new window logs again.
    repeatable('info', 'request aborted', 'request', { i: 1_000 });
    expect(records).toHaveLength(5);
  });

  it('keeps a window per key, and writes no summary when nothing was suppressed', () => {
    const { log, records } = capture();
    const repeatable = limitRepeats(log, { limit: 1, windowMs: 1_000 });
    repeatable('warn', 'connection refused', 'refused');
    repeatable('info', 'request timed out', 'timed out');
    repeatable('warn', 'connection refused', 'refused');
    vi.advanceTimersByTime(5_000);
    expect(records.map((r) => `${String(r.level)} ${String(r.msg)}`)).toEqual([
      'warn refused',
      'info timed out',
      'warn suppressed 1 similar lines',
    ]);
  });
});
