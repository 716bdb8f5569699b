import { readFileSync } from 'node:fs';

/**
 * What the pooler and load suites share: their configuration from `QUARRY_RELIABILITY_*`, plain
 * HTTP calls to the server (one call per request, no batching, so concurrency is what it says),
 * fixed-concurrency client loops, percentiles, and the server's resident memory.
 */

/** The real PostgreSQL and PgBouncer; undefined skips the suite, unless QUARRY_TEST_REQUIRE_ALL=1. */
export function realDatabases(): { postgresUrl: string; pgbouncerUrl: string } | undefined {
  const postgresUrl = process.env.QUARRY_TEST_DATABASE_URL || undefined;
  const pgbouncerUrl = process.env.QUARRY_TEST_PGBOUNCER_URL || undefined;
  if (postgresUrl && pgbouncerUrl) return { postgresUrl, pgbouncerUrl };
  if (process.env.QUARRY_TEST_REQUIRE_ALL === '1') {
    throw new Error(
      'QUARRY_TEST_DATABASE_URL and QUARRY_TEST_PGBOUNCER_URL must be set: QUARRY_TEST_REQUIRE_ALL=1 forbids skipping the reliability suites',
    );
  }
  return undefined;
}

/** A positive number from `QUARRY_RELIABILITY_<name>`, or the default sized for CI. */
export function reliabilitySetting(name: string, fallback: number): number {
  const text = process.env[`QUARRY_RELIABILITY_${name}`];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`QUARRY_RELIABILITY_${name} must be a positive number, got "${text}"`);
  return value;
}

/** The same URL on another database (PgBouncer's wildcard entry reaches any database of the server). */
export function onDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface ApiCall<T> {
  status: number;
  ms: number;
  /** `result.data` of a 200. */
  data: T | undefined;
  /** The error message of anything else (tRPC error, or the fetch failing). */
  error: string | undefined;
  /** The error's `data.quarryCode` (DATABASE_UNAVAILABLE, STATEMENT_TIMEOUT, ...), if it had one. */
  quarryCode?: string | undefined;
}

/** One tRPC procedure call as one POST (queries too: the server allows the method override). */
export async function callApi<T>(
  base: URL,
  procedure: string,
  input: unknown,
  apiKey: string,
): Promise<ApiCall<T>> {
  const started = performance.now();
  try {
    const response = await fetch(new URL(`/trpc/${procedure}`, base), {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    let json:
      | { result?: { data: T }; error?: { message: string; data?: { quarryCode?: string } } }
      | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = undefined;
    }
    if (response.status === 200 && json?.result)
      return { status: 200, ms, data: json.result.data, error: undefined };
    const code = json?.error?.data?.quarryCode;
    return {
      status: response.status,
      ms,
      data: undefined,
      error: `${response.status}${code ? ` ${code}` : ''}: ${json?.error?.message ?? text.slice(0, 200)}`,
      quarryCode: code,
    };
  } catch (error) {
    // fetch says only "fetch failed"; what failed (refused, reset, timed out) is its cause.
    const cause = (error as Error).cause;
    const why =
      cause instanceof Error
        ? `: ${'code' in cause && typeof cause.code === 'string' ? `${cause.code} ` : ''}${cause.message}`
        : '';
    return {
      status: 0,
      ms: performance.now() - started,
      data: undefined,
      error: `request failed: ${(error as Error).message}${why}`,
    };
  }
}

/** Runs `clients` loops of `iteration` side by side until `durationMs` has passed; each loop starts its next call when its last one ended. */
export async function runClients(
  clients: number,
  durationMs: number,
  iteration: (client: number) => Promise<void>,
): Promise<void> {
  const until = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (Date.now() < until) await iteration(client);
    }),
  );
}

/** The p-th percentile (0–100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export const ms = (value: number) => `${value.toFixed(1)} ms`;
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Resident memory of a process, from /proc/<pid>/status (VmRSS, in kB there). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** A random unit vector. */
export function randomUnitVector(dimensions: number): number[] {
  const vector = Array.from({ length: dimensions }, () => Math.random() * 2 - 1);
  const norm = Math.hypot(...vector) || 1;
  return vector.map((component) => Math.fround(component / norm));
}

export function pick<T>(items: readonly T[]): T {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}
