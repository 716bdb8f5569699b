import type { Readable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { RouterInputs } from '@quarry/api';
import { OFFLINE_DIMENSIONS, OFFLINE_MODEL } from '@quarry/api/embeddings';
import { isQuarryError, migrate } from '@quarry/db';
import { quarryCodeOf, isQuarryClientError } from '@quarry/client';
import { TRPCError } from '@trpc/server';
import { ConfigError, loadConfig, type DatabaseSettings, type ServerConfig } from '../env';
import { createProgress } from '../progress';
import { describeDatabase, openDatabase } from '../services';
import { diagnoseDatabase, diagnoseServer, formatFindings } from './doctor';
import { IngestFailed, ingestInput, type IngestSummary } from './ingest';
import { InputError, type InputSource } from './sources';
import { databaseTarget, httpTarget, type QuarryTarget } from './target';
import { formatBytes, formatTable } from './table';

const USAGE = `quarry: a command line for Quarry

Usage:
  quarry ingest <files or directories...> -c <collection> [options]   (no paths, or "-": read stdin)
  quarry search <text> -c <collection> [--k 10] [--mode vector|keyword|hybrid] [--filter <json>] [--json]
  quarry collections [list] [--json]
  quarry collections create <name> [--dimensions 100] [--model ${OFFLINE_MODEL}] [--metric cosine]
  quarry migrate
  quarry doctor

Where it connects (first that applies):
  --url <url> [--api-key <key>]   a running server (env QUARRY_URL, QUARRY_API_KEY)
  --database-url <url>            PostgreSQL directly (env DATABASE_URL, DATABASE_POOLED, DATABASE_REPLICA_URLS, DATABASE_INDEX_BUILD_MEMORY, ...)
  --data-dir <dir>                the embedded database (env QUARRY_DATA_DIR; default ./.quarry-data)

Ingest options:
  --batch-size <n>      documents per request (default 100)
  --concurrency <n>     requests in flight (default 4; 1 on the embedded database)
  --chunk-size <n>      characters per chunk of text and Markdown files (default 1000)
  --chunk-overlap <n>   characters repeated between chunks (default 150)
  --format <f>          stdin format: jsonl, markdown or text (default: jsonl if it starts with "{")
  --tenant <id>         tenant to write to
  --create              create the collection (offline model, ${OFFLINE_DIMENSIONS} dimensions) if it does not exist
  JSONL lines: {"content": "...", "metadata": {...}, "embedding": [...], "id": "..."}; only content is required.
  Already ingested content is skipped, so rerunning an interrupted ingest resumes it.
`;

/** Exit codes: 0 done, 1 failed, 2 the command line was wrong. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

const connectionOptions = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'database-url': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

type Env = Readonly<Record<string, string | undefined>>;
type SearchInput = RouterInputs['search']['query'];

interface Connection {
  url: string | undefined;
  apiKey: string | undefined;
  config: ServerConfig;
}

function connection(
  values: { url?: string; 'api-key'?: string; 'database-url'?: string; 'data-dir'?: string },
  env: Env,
  cwd: string,
): Connection {
  const databaseEnv: Record<string, string | undefined> = {};
  const postgresOnly = [
    'DATABASE_URL',
    'DATABASE_POOLED',
    'DATABASE_REPLICA_URLS',
    'DATABASE_MAX_CONNECTIONS',
    'DATABASE_ACQUIRE_TIMEOUT_MS',
    'DATABASE_INDEX_BUILD_MEMORY',
  ];
  for (const name of [
    ...postgresOnly,
    'QUARRY_DATA_DIR',
    'QUARRY_OPENAI_BASE_URL',
    'QUARRY_OPENAI_MODEL',
    'QUARRY_OPENAI_DIMENSIONS',
    'QUARRY_OPENAI_API_KEY',
    'STATEMENT_TIMEOUT_MS',
  ]) {
    databaseEnv[name] = env[name];
  }
  if (values['data-dir']) {
    for (const name of postgresOnly) delete databaseEnv[name];
    databaseEnv.QUARRY_DATA_DIR = values['data-dir'];
  }
  if (values['database-url']) {
    delete databaseEnv.QUARRY_DATA_DIR;
    databaseEnv.DATABASE_URL = values['database-url'];
  }
  const url =
    values.url ??
    (values['data-dir'] || values['database-url'] ? undefined : env.QUARRY_URL || undefined);
  return {
    url,
    apiKey: values['api-key'] ?? (env.QUARRY_API_KEY || undefined),
    config: loadConfig(databaseEnv, cwd),
  };
}

async function openTarget(conn: Connection): Promise<QuarryTarget> {
  if (conn.url) return httpTarget(conn.url, conn.apiKey);
  return databaseTarget(conn.config.database, conn.config.openai);
}

function integer(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min)
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got "${value}"`);
  return parsed;
}

function json(value: string | undefined, name: string): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new UsageError(`--${name} must be JSON, got ${value}`);
  }
}

function printSummary(
  summary: IngestSummary,
  collection: string,
  where: string,
  out: (line: string) => void,
): void {
  const rate =
    summary.seconds > 0 ? Math.round(summary.documents / summary.seconds) : summary.documents;
  out(
    `ingested ${summary.documents} documents into '${collection}' (${where}) in ${summary.seconds.toFixed(1)}s, ${rate}/s`,
  );
  out(`  inserted   ${summary.inserted}`);
  out(`  updated    ${summary.updated}`);
  out(`  unchanged  ${summary.unchanged}  (already ingested: skipped)`);
}

async function ingestCommand(args: string[], env: Env, cwd: string, io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...connectionOptions,
      collection: { type: 'string', short: 'c' },
      tenant: { type: 'string' },
      'batch-size': { type: 'string' },
      concurrency: { type: 'string' },
      'chunk-size': { type: 'string' },
      'chunk-overlap': { type: 'string' },
      format: { type: 'string' },
      create: { type: 'boolean' },
    },
  });
  if (!values.collection) throw new UsageError('quarry ingest needs --collection (-c) <name>');
  const chunking = {
    size: integer(values['chunk-size'], 'chunk-size', 1000, 50),
    overlap: integer(values['chunk-overlap'], 'chunk-overlap', 150, 0),
  };
  const batchSize = integer(values['batch-size'], 'batch-size', 100);
  const concurrency = integer(values.concurrency, 'concurrency', 4);
  let source: InputSource;
  if (positionals.length === 0 || (positionals.length === 1 && positionals[0] === '-')) {
    if (io.stdin.isTTY)
      throw new UsageError('quarry ingest: give files or directories, or pipe data into stdin');
    const format = values.format ?? (await sniffStdinFormat(io));
    if (format !== 'jsonl' && format !== 'text' && format !== 'markdown')
      throw new UsageError(`--format must be jsonl, text or markdown, got "${format}"`);
    source = { kind: 'stdin', stream: io.stdinStream(), format };
  } else {
    source = { kind: 'files', paths: positionals };
  }
  const target = await openTarget(connection(values, env, cwd));
  try {
    if (values.create) {
      const existing = (await target.listCollections()).some(
        (collection) => collection.name === values.collection,
      );
      if (!existing) {
        await target.createCollection({
          name: values.collection,
          dimensions: OFFLINE_DIMENSIONS,
          embeddingModel: OFFLINE_MODEL,
        });
        io.err(
          `created collection '${values.collection}' (${OFFLINE_MODEL}, ${OFFLINE_DIMENSIONS} dimensions)\n`,
        );
      }
    } else {
      await target.getCollection(values.collection);
    }
    const progress = createProgress({
      label: 'ingest',
      interactive: io.stderrIsTTY,
      write: (text) => io.err(text),
    });
    try {
      const summary = await ingestInput(
        target,
        source,
        { collection: values.collection, tenant: values.tenant, batchSize, concurrency, chunking },
        progress,
      );
      progress.finish();
      if (values.json) io.out(`${JSON.stringify({ collection: values.collection, ...summary })}\n`);
      else
        printSummary(summary, values.collection, target.description, (line) => io.out(`${line}\n`));
      return 0;
    } catch (error) {
      if (!(error instanceof IngestFailed)) throw error;
      progress.finish();
      printSummary(error.summary, values.collection, target.description, (line) =>
        io.err(`${line}\n`),
      );
      io.err(
        `quarry ingest: ${error.message}\nFix it and run the same command again: what is already stored is skipped.\n`,
      );
      return 1;
    }
  } finally {
    await target.close();
  }
}

/** Stdin is JSONL when its first non-blank character opens an object. Reads ahead without losing anything. */
async function sniffStdinFormat(io: Io): Promise<'jsonl' | 'text'> {
  const first = await io.peekStdin();
  return first.trimStart().startsWith('{') ? 'jsonl' : 'text';
}

async function searchCommand(args: string[], env: Env, cwd: string, io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...connectionOptions,
      collection: { type: 'string', short: 'c' },
      k: { type: 'string' },
      mode: { type: 'string' },
      filter: { type: 'string' },
      tenant: { type: 'string' },
      vector: { type: 'string' },
      'min-similarity': { type: 'string' },
      exact: { type: 'boolean' },
    },
  });
  if (!values.collection) throw new UsageError('quarry search needs --collection (-c) <name>');
  const text = positionals.join(' ').trim() || undefined;
  const vector = json(values.vector, 'vector');
  if (!text && vector === undefined)
    throw new UsageError('quarry search needs query text (or --vector <json array>)');
  const mode = values.mode ?? 'vector';
  if (mode !== 'vector' && mode !== 'keyword' && mode !== 'hybrid')
    throw new UsageError(`--mode must be vector, keyword or hybrid, got "${mode}"`);
  const target = await openTarget(connection(values, env, cwd));
  try {
    const input: SearchInput = {
      collection: values.collection,
      mode,
      k: integer(values.k, 'k', 10),
      exact: values.exact ?? false,
    };
    if (text) input.text = text;
    if (vector !== undefined) {
      if (!Array.isArray(vector) || !vector.every((component) => typeof component === 'number'))
        throw new UsageError('--vector must be a JSON array of numbers');
      input.vector = vector;
    }
    // The filter's shape is checked by the API's own input schema, as for any caller.
    if (values.filter) input.filter = json(values.filter, 'filter') as SearchInput['filter'];
    if (values.tenant) input.tenant = values.tenant;
    if (values['min-similarity']) input.minSimilarity = Number(values['min-similarity']);
    const response = await target.search(input);
    if (values.json) {
      io.out(`${JSON.stringify(response, null, 2)}\n`);
      return 0;
    }
    const fused = mode !== 'vector';
    const rows = response.results.map((result, index) => [
      String(index + 1),
      result.similarity === null ? '-' : result.similarity.toFixed(3),
      ...(fused ? [result.score.toFixed(4)] : []),
      result.externalId ?? result.id.slice(0, 8),
      result.content,
      JSON.stringify(result.metadata),
    ]);
    const headers = ['#', 'similarity', ...(fused ? ['score'] : []), 'id', 'content', 'metadata'];
    const widths = [undefined, undefined, ...(fused ? [undefined] : []), 24, 70, 40];
    io.out(
      `${formatTable(headers, rows, { maxWidths: widths, alignRight: [true, true, fused] })}\n`,
    );
    const { stats } = response;
    io.out(
      `${response.results.length} result(s) in ${stats.tookMs} ms · ${stats.mode}${stats.strategy ? ` · ${stats.strategy}: ${stats.strategyReason ?? ''}` : ''}${stats.fewerThanK ? ' · fewer than k match' : ''}\n`,
    );
    return 0;
  } finally {
    await target.close();
  }
}

async function collectionsCommand(args: string[], env: Env, cwd: string, io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...connectionOptions,
      dimensions: { type: 'string' },
      model: { type: 'string' },
      metric: { type: 'string' },
      m: { type: 'string' },
      'ef-construction': { type: 'string' },
    },
  });
  const [action = 'list', name, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  const target = await openTarget(connection(values, env, cwd));
  try {
    if (action === 'list') {
      const all = await target.listCollections();
      if (values.json) {
        io.out(`${JSON.stringify(all, null, 2)}\n`);
        return 0;
      }
      if (all.length === 0) {
        io.out('no collections yet: create one with `quarry collections create <name>`\n');
        return 0;
      }
      const rows = all.map((c) => [
        c.name,
        String(c.documentCount),
        String(c.dimensions),
        c.metric,
        c.embeddingModel,
        c.index
          ? `${c.index.valid ? 'valid' : c.index.building ? 'building' : 'INVALID'} ${formatBytes(c.index.sizeBytes)}`
          : 'MISSING',
      ]);
      io.out(
        `${formatTable(['name', 'documents', 'dimensions', 'metric', 'model', 'index'], rows, { alignRight: [false, true, true] })}\n`,
      );
      return 0;
    }
    if (action === 'create') {
      if (!name) throw new UsageError('quarry collections create needs a name');
      const metric = values.metric ?? 'cosine';
      if (metric !== 'cosine' && metric !== 'l2' && metric !== 'inner_product')
        throw new UsageError(`--metric must be cosine, l2 or inner_product, got "${metric}"`);
      const m = integer(values.m, 'm', 16, 2);
      const created = await target.createCollection({
        name,
        dimensions: integer(values.dimensions, 'dimensions', OFFLINE_DIMENSIONS),
        embeddingModel: values.model ?? OFFLINE_MODEL,
        metric,
        hnsw: {
          m,
          efConstruction: integer(
            values['ef-construction'],
            'ef-construction',
            Math.max(64, 2 * m),
            4,
          ),
        },
      });
      if (values.json) io.out(`${JSON.stringify(created, null, 2)}\n`);
      else
        io.out(
          `created collection '${created.name}': ${created.dimensions} dimensions, ${created.metric}, model ${created.embeddingModel}, index ${created.index?.name ?? 'none'}\n`,
        );
      return 0;
    }
    throw new UsageError(`unknown collections action "${action}": use list or create`);
  } finally {
    await target.close();
  }
}

function databaseOnly(conn: Connection, command: string): DatabaseSettings {
  if (conn.url)
    throw new UsageError(
      `quarry ${command} works on the database, not through a server: pass --database-url or --data-dir instead of --url`,
    );
  return conn.config.database;
}

async function migrateCommand(args: string[], env: Env, cwd: string, io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: connectionOptions });
  const settings = databaseOnly(connection(values, env, cwd), 'migrate');
  const { database, replicas } = await openDatabase(settings, 'quarry-cli');
  try {
    const started = performance.now();
    await migrate(database);
    io.out(
      `migrations applied to ${describeDatabase(settings)} in ${Math.round(performance.now() - started)} ms\n`,
    );
    return 0;
  } finally {
    await Promise.allSettled([database.close(), ...replicas.map((replica) => replica.close())]);
  }
}

async function doctorCommand(args: string[], env: Env, cwd: string, io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: connectionOptions });
  const conn = connection(values, env, cwd);
  let findings;
  if (conn.url) {
    findings = await diagnoseServer(conn.url, conn.apiKey);
  } else {
    const { database, replicas } = await openDatabase(conn.config.database, 'quarry-doctor');
    try {
      findings = await diagnoseDatabase(conn.config.database, database, replicas);
    } finally {
      await Promise.allSettled([database.close(), ...replicas.map((replica) => replica.close())]);
    }
  }
  io.out(values.json ? `${JSON.stringify(findings, null, 2)}\n` : `${formatFindings(findings)}\n`);
  return findings.some((finding) => finding.verdict === 'fail') ? 1 : 0;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  stdin: { isTTY: boolean };
  stderrIsTTY: boolean;
  /** The start of stdin, without consuming it. */
  peekStdin(): Promise<string>;
  stdinStream(): Readable;
}

const commands: Record<string, (args: string[], env: Env, cwd: string, io: Io) => Promise<number>> =
  {
    ingest: ingestCommand,
    search: searchCommand,
    collections: collectionsCommand,
    migrate: migrateCommand,
    doctor: doctorCommand,
  };

function describeError(error: unknown): string {
  // In-process calls: the API hides internal errors from remote callers, but here the operator
  // is the caller, and the cause is what they need.
  if (error instanceof TRPCError && error.code === 'INTERNAL_SERVER_ERROR' && error.cause)
    return `internal error: ${describeError(error.cause)}`;
  if (error instanceof TRPCError)
    return `${error.message}${isQuarryError(error.cause) ? ` (${error.cause.code})` : ''}`;
  if (isQuarryClientError(error)) {
    const code = quarryCodeOf(error);
    return `${error.message}${code ? ` (${code})` : ''}`;
  }
  if (isQuarryError(error)) return `${error.message} (${error.code})`;
  if (error instanceof ConfigError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

export async function runCli(argv: string[], env: Env, cwd: string, io: Io): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    io.out(USAGE);
    return command ? 0 : 2;
  }
  const run = commands[command];
  if (!run) {
    io.err(`quarry: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  try {
    return await run(args, env, cwd, io);
  } catch (error) {
    const usage =
      error instanceof UsageError ||
      (error instanceof TypeError &&
        'code' in error &&
        String(error.code).startsWith('ERR_PARSE_ARGS'));
    io.err(`quarry ${command}: ${describeError(error)}\n`);
    if (error instanceof InputError) return 1;
    return usage ? 2 : 1;
  }
}
