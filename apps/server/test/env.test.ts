import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/env';
import { serverRoot } from './harness';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/srv/quarry');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => problem.variable);
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('with nothing set: embedded database in apps/server/.quarry-data, 127.0.0.1:8080, demo on, open access', () => {
    const config = loadConfig({}, '/srv/quarry');
    expect(config.database).toEqual({
      driver: 'embedded',
      dataDir: join(serverRoot, '.quarry-data'),
    });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      demo: true,
      apiKeys: [],
      autoMigrate: true,
      corsOrigins: [],
    });
  });

  it('the default data directory is the same from any working directory; a QUARRY_DATA_DIR given is relative to it', () => {
    const dataDir = (env: Record<string, string>, cwd: string) => {
      const { database } = loadConfig(env, cwd);
      return database.driver === 'embedded' ? database.dataDir : undefined;
    };
    expect(dataDir({}, '/')).toBe(dataDir({}, serverRoot));
    expect(dataDir({}, join(serverRoot, '..', '..'))).toBe(join(serverRoot, '.quarry-data'));
    expect(dataDir({ QUARRY_DATA_DIR: 'data' }, '/srv/quarry')).toBe('/srv/quarry/data');
  });

  it('with DATABASE_URL: PostgreSQL with its replicas and pooling, and no demo data', () => {
    const config = loadConfig(
      {
        DATABASE_URL: 'postgres://q@db:5432/quarry',
        DATABASE_POOLED: 'true',
        DATABASE_REPLICA_URLS: 'postgres://q@r1/quarry, postgres://q@r2/quarry',
      },
      '/srv/quarry',
    );
    expect(config.database).toEqual({
      driver: 'postgres',
      url: 'postgres://q@db:5432/quarry',
      pooled: true,
      maxConnections: 10,
      acquireTimeoutMs: 10_000,
      replicaUrls: ['postgres://q@r1/quarry', 'postgres://q@r2/quarry'],
      replicaBackoff: { initialMs: 1_000, maxMs: 30_000 },
    });
    expect(config.demo).toBe(false);
  });

  it('DATABASE_INDEX_BUILD_MEMORY is a PostgreSQL memory size or off, and only for PostgreSQL', () => {
    const database = (value: string) =>
      loadConfig({ DATABASE_URL: 'postgres://db/q', DATABASE_INDEX_BUILD_MEMORY: value }, '/')
        .database;
    expect(database('2GB')).toMatchObject({ indexBuildMemory: '2GB' });
    expect(database('off')).toMatchObject({ indexBuildMemory: false });
    expect(loadConfig({ DATABASE_URL: 'postgres://db/q' }, '/').database).toMatchObject({
      indexBuildMemory: undefined,
    });
    for (const bad of ['2 GB', '512mb', '0MB', 'lots', '-1GB']) {
      expect(
        problemsOf({ DATABASE_URL: 'postgres://db/q', DATABASE_INDEX_BUILD_MEMORY: bad }),
      ).toEqual(['DATABASE_INDEX_BUILD_MEMORY']);
    }
    expect(problemsOf({ DATABASE_INDEX_BUILD_MEMORY: '1GB' })).toEqual([
      'DATABASE_INDEX_BUILD_MEMORY',
    ]);
  });

  it('DATABASE_ACQUIRE_TIMEOUT_MS bounds the wait for a pool connection; 0 means no bound; nonsense is refused', () => {
    const database = (value: string) =>
      loadConfig({ DATABASE_URL: 'postgres://db/q', DATABASE_ACQUIRE_TIMEOUT_MS: value }, '/')
        .database;
    expect(database('2500')).toMatchObject({ acquireTimeoutMs: 2500 });
    expect(database('0')).toMatchObject({ acquireTimeoutMs: 0 });
    expect(
      problemsOf({ DATABASE_URL: 'postgres://db/q', DATABASE_ACQUIRE_TIMEOUT_MS: '-1' }),
    ).toEqual(['DATABASE_ACQUIRE_TIMEOUT_MS']);
    expect(
      problemsOf({ DATABASE_URL: 'postgres://db/q', DATABASE_ACQUIRE_TIMEOUT_MS: '5s' }),
    ).toEqual(['DATABASE_ACQUIRE_TIMEOUT_MS']);
    expect(problemsOf({ DATABASE_ACQUIRE_TIMEOUT_MS: '1000' })).toEqual([
      'DATABASE_ACQUIRE_TIMEOUT_MS',
    ]);
  });

  it('passes request limits and the statement timeout to the API', () => {
    const config = loadConfig(
      { QUARRY_MAX_K: '50', QUARRY_MAX_INGEST_BATCH: '200', STATEMENT_TIMEOUT_MS: '1500' },
      '/',
    );
    expect(config.limits).toEqual({ maxK: 50, maxBatchDocuments: 200, statementTimeoutMs: 1500 });
  });

  it('passes the response bounds to the API, refusing a budget below 64 KiB', () => {
    const config = loadConfig(
      { QUARRY_CONTENT_PREVIEW_CHARS: '500', QUARRY_MAX_RESPONSE_BYTES: '1048576' },
      '/',
    );
    expect(config.limits).toEqual({ contentPreviewChars: 500, maxResponseBytes: 1_048_576 });
    expect(() => loadConfig({ QUARRY_MAX_RESPONSE_BYTES: '1000' }, '/')).toThrow(
      /QUARRY_MAX_RESPONSE_BYTES: must be at least 65536/,
    );
  });

  it('bounds slow clients and open connections, with defaults when unset', () => {
    expect(loadConfig({}, '/')).toMatchObject({
      headersTimeoutMs: 20_000,
      bodyTimeoutMs: 60_000,
      maxConnections: 1_000,
      logRepeats: { limit: 10, windowMs: 60_000 },
    });
    expect(
      loadConfig(
        {
          QUARRY_HEADERS_TIMEOUT_MS: '5000',
          QUARRY_BODY_TIMEOUT_MS: '15000',
          QUARRY_MAX_CONNECTIONS: '200',
          QUARRY_LOG_REPEAT_LIMIT: '3',
          QUARRY_LOG_REPEAT_WINDOW_MS: '1000',
        },
        '/',
      ),
    ).toMatchObject({
      headersTimeoutMs: 5_000,
      bodyTimeoutMs: 15_000,
      maxConnections: 200,
      logRepeats: { limit: 3, windowMs: 1_000 },
    });
    expect(
      problemsOf({
        QUARRY_BODY_TIMEOUT_MS: '0',
        QUARRY_HEADERS_TIMEOUT_MS: '1m',
        QUARRY_MAX_CONNECTIONS: '0',
      }).sort(),
    ).toEqual(['QUARRY_BODY_TIMEOUT_MS', 'QUARRY_HEADERS_TIMEOUT_MS', 'QUARRY_MAX_CONNECTIONS']);
  });

  it('treats blank variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '  ' }, '/').port).toBe(8080);
  });

  it('names a replica URL that is not a PostgreSQL URL by its position', () => {
    expect(
      problemsOf({
        DATABASE_URL: 'postgres://db/q',
        DATABASE_REPLICA_URLS: 'postgres://r1/q,mysql://r2/q',
      }),
    ).toEqual(['DATABASE_REPLICA_URLS[1]']);
  });

  it('asks for the missing parts of the OpenAI-compatible provider', () => {
    expect(problemsOf({ QUARRY_OPENAI_BASE_URL: 'http://localhost:11434/v1' }).sort()).toEqual([
      'QUARRY_OPENAI_DIMENSIONS',
      'QUARRY_OPENAI_MODEL',
    ]);
  });

  it('refuses pooler and replica settings without DATABASE_URL', () => {
    expect(problemsOf({ DATABASE_POOLED: 'true' })).toEqual(['DATABASE_POOLED']);
  });

  it('refuses the same API key twice and keys shorter than 16 characters', () => {
    expect(
      problemsOf({
        QUARRY_API_KEYS: JSON.stringify([
          { key: 'k'.repeat(16), scopes: ['read'] },
          { key: 'k'.repeat(16), scopes: ['write'] },
        ]),
      }),
    ).toEqual(['QUARRY_API_KEYS']);
    expect(
      problemsOf({ QUARRY_API_KEYS: JSON.stringify([{ key: 'short', scopes: ['read'] }]) }),
    ).toEqual(['QUARRY_API_KEYS[0].key']);
  });

  it('refuses CORS origins with a path', () => {
    expect(problemsOf({ CORS_ORIGINS: 'https://app.example.com/dashboard' })).toEqual([
      'CORS_ORIGINS[0]',
    ]);
  });
});
