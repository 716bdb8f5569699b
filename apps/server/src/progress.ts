/**
 * Progress of a long job (demo data, `quarry ingest`): a bar redrawn in place on a terminal, or a
 * plain line every few seconds when the output is a log file or a pipe.
 */
export interface Progress {
  /** `done` items of `total` (unknown for stdin). */
  update(done: number): void;
  setTotal(total: number): void;
  finish(): void;
}

export interface ProgressStats {
  done: number;
  total: number | undefined;
  elapsedSeconds: number;
  perSecond: number;
  etaSeconds: number | undefined;
}

export function progressStats(
  done: number,
  total: number | undefined,
  startedAt: number,
  now = performance.now(),
  /** What was already done when the clock started (a resumed job): not counted in the rate. */
  doneAtStart = 0,
): ProgressStats {
  const elapsedSeconds = (now - startedAt) / 1000;
  const perSecond = elapsedSeconds > 0 ? (done - doneAtStart) / elapsedSeconds : 0;
  const etaSeconds =
    total !== undefined && perSecond > 0 ? Math.max(0, (total - done) / perSecond) : undefined;
  return { done, total, elapsedSeconds, perSecond, etaSeconds };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function describeProgress(label: string, stats: ProgressStats, width = 24): string {
  const rate = `${Math.round(stats.perSecond).toLocaleString('en-US')}/s`;
  if (stats.total === undefined || stats.total === 0) {
    return `${label} ${stats.done.toLocaleString('en-US')} ${rate}`;
  }
  const fraction = Math.min(1, stats.done / stats.total);
  const filled = Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const eta = stats.etaSeconds === undefined ? '' : ` ETA ${formatDuration(stats.etaSeconds)}`;
  return `${label} ${bar} ${stats.done.toLocaleString('en-US')}/${stats.total.toLocaleString('en-US')} (${Math.round(fraction * 100)}%) ${rate}${eta}`;
}

export function createProgress(options: {
  label: string;
  total?: number;
  /** Already done when it starts (a resumed job): counted in the bar, not in the rate. */
  doneAtStart?: number;
  /** Redraw in place (a terminal); otherwise `report` is called at most every `intervalMs`. */
  interactive: boolean;
  write: (text: string) => void;
  report?: (stats: ProgressStats) => void;
  intervalMs?: number;
}): Progress {
  const startedAt = performance.now();
  let total = options.total;
  let lastDraw = 0;
  const doneAtStart = options.doneAtStart ?? 0;
  let done = doneAtStart;
  let drawn = -1;
  const interval = options.intervalMs ?? (options.interactive ? 100 : 5_000);
  const draw = (force: boolean) => {
    const now = performance.now();
    if (!force && now - lastDraw < interval) return;
    lastDraw = now;
    drawn = done;
    const stats = progressStats(done, total, startedAt, now, doneAtStart);
    if (options.interactive) options.write(`\r\x1b[2K${describeProgress(options.label, stats)}`);
    else if (options.report) options.report(stats);
    else options.write(`${describeProgress(options.label, stats)}\n`);
  };
  return {
    update(value) {
      done = value;
      draw(false);
    },
    setTotal(value) {
      total = value;
    },
    finish() {
      if (drawn !== done || options.interactive) draw(true);
      if (options.interactive) options.write('\n');
    },
  };
}
