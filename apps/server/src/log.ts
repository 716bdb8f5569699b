export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  readonly format: 'json' | 'pretty';
}

/**
 * One record per event. JSON lines for machines (the default when stdout is not a terminal);
 * the same records rendered as a short line for a person at a terminal.
 */
export function createLogger(options: {
  format: 'json' | 'pretty';
  write?: (line: string) => void;
}): Logger {
  const write = options.write ?? stdoutWriter();
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    const time = new Date();
    if (options.format === 'json') {
      write(
        `${JSON.stringify({ time: time.toISOString(), level, msg, ...fields }, errorReplacer)}\n`,
      );
      return;
    }
    const details = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(
        ([key, value]) =>
          `${key}=${typeof value === 'string' ? value : JSON.stringify(value, errorReplacer)}`,
      )
      .join(' ');
    const tag = level === 'info' ? '' : `${level.toUpperCase()} `;
    write(`${time.toTimeString().slice(0, 8)} ${tag}${msg}${details ? `  ${details}` : ''}\n`);
  };
  return {
    format: options.format,
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

/**
 * Lines to stdout, those of one event-loop turn in one write: each write to a pipe is a system
 * call that also wakes the reader (a log shipper), and under load several requests end in the same
 * turn. What is pending is written at the turn's end, or at exit (stdout to a pipe or file is
 * synchronous on Linux, so a `process.exit()` right after a line still writes it).
 */
function stdoutWriter(): (line: string) => void {
  let pending = '';
  const flush = () => {
    if (pending === '') return;
    const lines = pending;
    pending = '';
    process.stdout.write(lines);
  };
  process.once('exit', flush);
  return (line) => {
    if (pending === '') setImmediate(flush);
    pending += line;
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...(value.cause ? { cause: errorReplacer('', value.cause) } : {}),
      stack: value.stack,
    };
  }
  return value;
}

export interface RepeatLimit {
  /** Lines per key in each window. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_REPEAT_LIMIT: RepeatLimit = { limit: 10, windowMs: 60_000 };

/**
 * Logs an event a client can repeat without end (aborted uploads, timed-out bodies, refused
 * connections): `log(level, key, msg, fields)`.
 */
export type RepeatableLog = (level: LogLevel, key: string, msg: string, fields?: LogFields) => void;

/**
 * At most `limit` lines per `key` in each `windowMs` (a fixed window opened by the key's first
 * line); the rest are counted, and when the window ends one record of the same level says
 * `suppressed K similar lines` with the key. Keys are names chosen in code, so the map stays as
 * small as the number of kinds of repeatable event.
 */
export function limitRepeats(log: Logger, { limit, windowMs }: RepeatLimit): RepeatableLog {
  const windows = new Map<string, { openedAt: number; lines: number; suppressed: number }>();
  return (level, key, msg, fields) => {
    const now = Date.now();
    let window = windows.get(key);
    if (!window || now - window.openedAt >= windowMs) {
      window = { openedAt: now, lines: 0, suppressed: 0 };
      windows.set(key, window);
    }
    if (window.lines < limit) {
      window.lines++;
      log[level](msg, fields);
      return;
    }
    if (window.suppressed++ > 0) return;
    const closing = window;
    setTimeout(
      () => {
        if (windows.get(key) === closing) windows.delete(key);
        log[level](`suppressed ${closing.suppressed} similar lines`, {
          key,
          suppressed: closing.suppressed,
          logged: closing.lines,
          windowMs,
        });
      },
      closing.openedAt + windowMs - now,
    ).unref();
  };
}
