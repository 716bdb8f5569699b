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
  const write = options.write ?? ((line: string) => process.stdout.write(line));
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
