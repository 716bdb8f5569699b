import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where trials are collected while the suites run, and where the report is written at the end.
 * QUARRY_RELIABILITY_OUTPUT_DIR moves it, so that two runs on one machine do not clear each other's trials.
 */
export const reliabilityOutputDir =
  process.env.QUARRY_RELIABILITY_OUTPUT_DIR ||
  fileURLToPath(new URL('../test-output/reliability/', import.meta.url));
export const trialsDir = join(reliabilityOutputDir, 'trials');
export const reportPath = join(reliabilityOutputDir, 'report.md');

/** One row of the report: what was tried, how many times, and how many times it held. */
export interface Trial {
  /** The report section, for example "Crash during ingest" or "Pooler". */
  suite: string;
  /** What was tried, in a sentence a reader understands without the code. */
  scenario: string;
  attempts: number;
  /** Attempts after which every invariant held. */
  survived: number;
  /** Measured figures worth reading (latencies, counts, memory), already formatted or numeric. */
  metrics?: Record<string, string | number>;
  /** Anything a reader should know: what failed, what was checked. */
  notes?: string[];
}

/**
 * Records a trial for the report. Suites call this after their assertions have run, with the real
 * counts, also when some attempts failed (the test then fails too). Files are per suite so that
 * workers never interleave writes.
 */
export function recordTrial(trial: Trial): void {
  mkdirSync(trialsDir, { recursive: true });
  const file = join(trialsDir, `${trial.suite.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.jsonl`);
  appendFileSync(file, `${JSON.stringify({ ...trial, recordedAt: new Date().toISOString() })}\n`);
}

export function readTrials(): Trial[] {
  let files: string[];
  try {
    files = readdirSync(trialsDir)
      .filter((name) => name.endsWith('.jsonl'))
      .sort();
  } catch {
    return [];
  }
  return files.flatMap((name) =>
    readFileSync(join(trialsDir, name), 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as Trial),
  );
}
