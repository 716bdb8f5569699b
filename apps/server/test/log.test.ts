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

describe('the default writer (stdout)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("writes the lines of one event-loop turn in one write, at the turn's end, each line whole", async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const log = createLogger({ format: 'json' });
    log.info('request', { n: 1 });
    log.warn('request', { n: 2 });
    log.error('request', { n: 3 });
    expect(write).not.toHaveBeenCalled();
    await new Promise((resolve) => setImmediate(resolve));
    expect(write).toHaveBeenCalledTimes(1);
    const lines = String(write.mock.calls[0]?.[0]).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => (JSON.parse(line) as { n: number }).n)).toEqual([
      1, 2, 3,
    ]);
  });

  it('writes what is pending when the process exits (process.exit right after a line)', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const log = createLogger({ format: 'json' });
    log.error('could not start');
    process.emit('exit', 1);
    expect(write).toHaveBeenCalledTimes(1);
    expect(String(write.mock.calls[0]?.[0])).toContain('could not start');
  });
});
