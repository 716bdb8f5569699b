import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiKeyConfigSchema, type ApiKeyConfig } from '@quarry/api/auth';
import { HARD_LIMITS, type Limits } from '@quarry/api/limits';
import { z } from 'zod';
import { DEFAULT_REPEAT_LIMIT, type RepeatLimit } from './log';

/**
 * The server's whole configuration, read from the environment once at start (main.ts passes
 * `process.env` in; nothing else reads it). Every variable is checked on its own, so one bad value
 * yields one message naming it.
 */

const blankToUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess(blankToUndefined, schema.optional());

const booleanText = z
  .string()
  .trim()
  .toLowerCase()
  .refine(
    (text) => ['true', 'false', '1', '0', 'yes', 'no'].includes(text),
    'must be true or false',
  )
  .transform((text) => text === 'true' || text === '1' || text === 'yes');

const integerText = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const postgresUrl = z
  .string()
  .trim()
  .refine((text) => {
    try {
      return ['postgres:', 'postgresql:'].includes(new URL(text).protocol);
    } catch {
      return false;
    }
  }, 'must be a postgres:// or postgresql:// URL, e.g. postgres://user:password@host:5432/quarry');

const commaList = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .pipe(z.array(item));

const origin = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text;
  } catch {
    return false;
  }
}, 'each origin must be scheme://host[:port] with no path or trailing slash, e.g. https://app.example.com');

const apiKeysJson = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be a JSON array such as [{"key":"<16+ characters>","scopes":["read","write"]}]',
      });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(apiKeyConfigSchema, 'must be a JSON array of {key, scopes, tenant?, name?} objects')
      .refine(
        (keys) => new Set(keys.map((key) => key.key)).size === keys.length,
        'the same key appears twice',
      ),
  );

const envSchema = z.object({
  DATABASE_URL: optional(postgresUrl),
  DATABASE_POOLED: optional(booleanText),
  DATABASE_REPLICA_URLS: optional(commaList(postgresUrl)),
  DATABASE_MAX_CONNECTIONS: optional(integerText(1, 1000)),
  DATABASE_ACQUIRE_TIMEOUT_MS: optional(integerText(0, 10 * 60 * 1000)),
  DATABASE_REPLICA_RETRY_MS: optional(integerText(10, 10 * 60 * 1000)),
  DATABASE_REPLICA_RETRY_MAX_MS: optional(integerText(10, 60 * 60 * 1000)),
  DATABASE_INDEX_BUILD_MEMORY: optional(
    z
      .string()
      .regex(
        /^(off|[1-9]\d{0,6}(kB|MB|GB))$/,
        "must be a PostgreSQL memory size such as 512MB or 2GB, or 'off'",
      ),
  ),
  QUARRY_DATA_DIR: optional(z.string()),
  QUARRY_API_KEYS: optional(apiKeysJson),
  QUARRY_OPENAI_BASE_URL: optional(
    z.url({
      protocol: /^https?$/,
      error: 'must be an http(s) URL ending with the API version, e.g. https://api.openai.com/v1',
    }),
  ),
  QUARRY_OPENAI_MODEL: optional(z.string().min(1)),
  QUARRY_OPENAI_DIMENSIONS: optional(integerText(1, HARD_LIMITS.vectorDimensions)),
  QUARRY_OPENAI_API_KEY: optional(z.string().min(1)),
  PORT: optional(integerText(0, 65_535)),
  HOST: optional(z.string().min(1)),
  CORS_ORIGINS: optional(commaList(origin)),
  QUARRY_MAX_BODY_BYTES: optional(integerText(1_024, 1024 * 1024 * 1024)),
  QUARRY_HEADERS_TIMEOUT_MS: optional(integerText(100, 10 * 60 * 1000)),
  QUARRY_BODY_TIMEOUT_MS: optional(integerText(100, 60 * 60 * 1000)),
  QUARRY_MAX_CONNECTIONS: optional(integerText(1, 1_000_000)),
  QUARRY_MAX_BATCH_CALLS: optional(integerText(1, 1_000)),
  QUARRY_MAX_K: optional(integerText(1, HARD_LIMITS.k)),
  QUARRY_CONTENT_PREVIEW_CHARS: optional(integerText(1, HARD_LIMITS.contentChars)),
  QUARRY_MAX_RESPONSE_BYTES: optional(integerText(64 * 1024, 1024 * 1024 * 1024)),
  QUARRY_MAX_INGEST_BATCH: optional(integerText(1, HARD_LIMITS.batchDocuments)),
  STATEMENT_TIMEOUT_MS: optional(integerText(0, 24 * 60 * 60 * 1000)),
  QUARRY_SHUTDOWN_TIMEOUT_MS: optional(integerText(0, 10 * 60 * 1000)),
  QUARRY_AUTO_MIGRATE: optional(booleanText),
  QUARRY_DEMO: optional(booleanText),
  QUARRY_ADMIN_DIST: optional(z.string()),
  QUARRY_LOG_FORMAT: optional(z.enum(['json', 'pretty'], 'must be json or pretty')),
  QUARRY_LOG_REPEAT_LIMIT: optional(integerText(1, 1_000_000)),
  QUARRY_LOG_REPEAT_WINDOW_MS: optional(integerText(10, 24 * 60 * 60 * 1000)),
});
export type EnvName = keyof typeof envSchema.shape;

export type DatabaseSettings =
  | { driver: 'embedded'; dataDir: string }
  | {
      driver: 'postgres';
      url: string;
      pooled: boolean;
      maxConnections: number;
      acquireTimeoutMs: number;
      /** maintenance_work_mem for HNSW builds on a direct connection; false keeps the server's. */
      indexBuildMemory: string | false | undefined;
      replicaUrls: string[];
      /** A replica that fails is probed again after `initialMs`, doubling per failed probe up to `maxMs`. */
      replicaBackoff?: { initialMs: number; maxMs: number };
    };

export interface OpenAISettings {
  baseUrl: string;
  model: string;
  dimensions: number;
  apiKey: string | undefined;
}

export interface ServerConfig {
  database: DatabaseSettings;
  apiKeys: ApiKeyConfig[];
  openai: OpenAISettings | undefined;
  port: number;
  host: string;
  corsOrigins: string[];
  maxBodyBytes: number;
  /** How long a client may take to send a request's headers. */
  headersTimeoutMs: number;
  /** How long a request body may take to arrive, from its headers on; then 408 and the connection closed. */
  bodyTimeoutMs: number;
  /** Open HTTP connections; one more is answered 503 and closed. */
  maxConnections: number;
  /** Procedure calls in one tRPC batch request. */
  maxBatchCalls: number;
  limits: Partial<Limits>;
  shutdownTimeoutMs: number;
  autoMigrate: boolean;
  /** Create and fill the demo collection on start. */
  demo: boolean;
  /** The built dashboard; `undefined` means the default location next to this app. */
  adminDist: string | undefined;
  logFormat: 'json' | 'pretty' | undefined;
  /** Lines per kind of repeatable event (aborted uploads, refused connections) in each window. */
  logRepeats: RepeatLimit;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: ReadonlyArray<{ variable: string; message: string }>) {
    super(
      `invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
  }
}

/** `QUARRY_API_KEYS[0].scopes` from a zod issue path rooted at the variable name. */
function variableName(path: ReadonlyArray<PropertyKey>): string {
  const [name, ...rest] = path;
  return rest.reduce<string>(
    (label, key) => (typeof key === 'number' ? `${label}[${key}]` : `${label}.${String(key)}`),
    String(name),
  );
}

/** Variables that are fine alone but not together (or not without another). */
function combinationProblems(
  env: Readonly<Record<string, string | undefined>>,
): Array<{ variable: string; message: string }> {
  const isSet = (name: EnvName) => (env[name] ?? '').trim() !== '';
  const problems: Array<{ variable: string; message: string }> = [];
  const openaiParts = [
    'QUARRY_OPENAI_BASE_URL',
    'QUARRY_OPENAI_MODEL',
    'QUARRY_OPENAI_DIMENSIONS',
  ] as const;
  const given = openaiParts.filter(isSet);
  if (given.length > 0 && given.length < openaiParts.length) {
    for (const name of openaiParts.filter((part) => !isSet(part))) {
      problems.push({
        variable: name,
        message: `is required when ${given.join(' and ')} ${given.length === 1 ? 'is' : 'are'} set`,
      });
    }
  }
  if (isSet('QUARRY_OPENAI_API_KEY') && given.length === 0) {
    problems.push({
      variable: 'QUARRY_OPENAI_API_KEY',
      message: `is set but ${openaiParts.join(', ')} are not`,
    });
  }
  if (!isSet('DATABASE_URL')) {
    for (const name of [
      'DATABASE_POOLED',
      'DATABASE_REPLICA_URLS',
      'DATABASE_MAX_CONNECTIONS',
      'DATABASE_ACQUIRE_TIMEOUT_MS',
      'DATABASE_INDEX_BUILD_MEMORY',
      'DATABASE_REPLICA_RETRY_MS',
      'DATABASE_REPLICA_RETRY_MAX_MS',
    ] as const) {
      if (isSet(name))
        problems.push({
          variable: name,
          message:
            'needs DATABASE_URL: the embedded database has no pooler, replicas or connection pool',
        });
    }
  } else if (isSet('QUARRY_DATA_DIR')) {
    problems.push({
      variable: 'QUARRY_DATA_DIR',
      message: 'is only for the embedded database; unset it or unset DATABASE_URL',
    });
  }
  return problems;
}

/**
 * The embedded database's directory when QUARRY_DATA_DIR is not set: `.quarry-data` in this
 * package (apps/server), wherever the server or the CLI is started from, so both open the same one.
 * A QUARRY_DATA_DIR that is set is taken relative to the working directory, as any path given.
 */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../.quarry-data', import.meta.url));

/** Parses the environment, or throws a ConfigError listing every bad variable. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): ServerConfig {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const value = env[String(issue.path[0])];
        // Never echo secrets back (keys, URLs with passwords); other values help the reader.
        const secret = /KEY|URL/.test(String(issue.path[0]));
        const shown = value === undefined || secret ? '' : ` (got ${JSON.stringify(value)})`;
        return { variable: variableName(issue.path), message: `${issue.message}${shown}` };
      });
  problems.push(...combinationProblems(env));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;

  const database: DatabaseSettings = e.DATABASE_URL
    ? {
        driver: 'postgres',
        url: e.DATABASE_URL,
        pooled: e.DATABASE_POOLED ?? false,
        maxConnections: e.DATABASE_MAX_CONNECTIONS ?? 10,
        acquireTimeoutMs: e.DATABASE_ACQUIRE_TIMEOUT_MS ?? 10_000,
        indexBuildMemory:
          e.DATABASE_INDEX_BUILD_MEMORY === 'off' ? false : e.DATABASE_INDEX_BUILD_MEMORY,
        replicaUrls: e.DATABASE_REPLICA_URLS ?? [],
        replicaBackoff: {
          initialMs: e.DATABASE_REPLICA_RETRY_MS ?? 1_000,
          maxMs: Math.max(
            e.DATABASE_REPLICA_RETRY_MAX_MS ?? 30_000,
            e.DATABASE_REPLICA_RETRY_MS ?? 0,
          ),
        },
      }
    : {
        driver: 'embedded',
        dataDir: e.QUARRY_DATA_DIR ? resolve(cwd, e.QUARRY_DATA_DIR) : DEFAULT_DATA_DIR,
      };

  const limits: Partial<Limits> = {};
  if (e.QUARRY_MAX_K !== undefined) limits.maxK = e.QUARRY_MAX_K;
  if (e.QUARRY_MAX_INGEST_BATCH !== undefined) limits.maxBatchDocuments = e.QUARRY_MAX_INGEST_BATCH;
  if (e.STATEMENT_TIMEOUT_MS !== undefined) limits.statementTimeoutMs = e.STATEMENT_TIMEOUT_MS;
  if (e.QUARRY_CONTENT_PREVIEW_CHARS !== undefined)
    limits.contentPreviewChars = e.QUARRY_CONTENT_PREVIEW_CHARS;
  if (e.QUARRY_MAX_RESPONSE_BYTES !== undefined)
    limits.maxResponseBytes = e.QUARRY_MAX_RESPONSE_BYTES;

  return {
    database,
    apiKeys: e.QUARRY_API_KEYS ?? [],
    openai:
      e.QUARRY_OPENAI_BASE_URL && e.QUARRY_OPENAI_MODEL && e.QUARRY_OPENAI_DIMENSIONS
        ? {
            baseUrl: e.QUARRY_OPENAI_BASE_URL,
            model: e.QUARRY_OPENAI_MODEL,
            dimensions: e.QUARRY_OPENAI_DIMENSIONS,
            apiKey: e.QUARRY_OPENAI_API_KEY,
          }
        : undefined,
    port: e.PORT ?? 8080,
    host: e.HOST ?? '127.0.0.1',
    corsOrigins: e.CORS_ORIGINS ?? [],
    maxBodyBytes: e.QUARRY_MAX_BODY_BYTES ?? 32 * 1024 * 1024,
    headersTimeoutMs: e.QUARRY_HEADERS_TIMEOUT_MS ?? 20_000,
    bodyTimeoutMs: e.QUARRY_BODY_TIMEOUT_MS ?? 60_000,
    maxConnections: e.QUARRY_MAX_CONNECTIONS ?? 1_000,
    maxBatchCalls: e.QUARRY_MAX_BATCH_CALLS ?? 50,
    limits,
    shutdownTimeoutMs: e.QUARRY_SHUTDOWN_TIMEOUT_MS ?? 10_000,
    autoMigrate: e.QUARRY_AUTO_MIGRATE ?? true,
    demo: e.QUARRY_DEMO ?? database.driver === 'embedded',
    adminDist: e.QUARRY_ADMIN_DIST ? resolve(cwd, e.QUARRY_ADMIN_DIST) : undefined,
    logFormat: e.QUARRY_LOG_FORMAT,
    logRepeats: {
      limit: e.QUARRY_LOG_REPEAT_LIMIT ?? DEFAULT_REPEAT_LIMIT.limit,
      windowMs: e.QUARRY_LOG_REPEAT_WINDOW_MS ?? DEFAULT_REPEAT_LIMIT.windowMs,
    },
  };
}
