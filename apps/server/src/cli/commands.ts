import type { Readable } from 'node:stream';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { RouterInputs } from '@quarry/api';
import { OFFLINE_DIMENSIONS, OFFLINE_MODEL } from '@quarry/api/embeddings/offline-model';
import {
  DEFAULT_TEXT_SEARCH_CONFIG,
  partitionKeys,
  partitionMethods,
  textSearchConfigs,
  type PartitionKey,
  type PartitionMethod,
  type TextSearchConfig,
} from '@quarry/db/choices';
import { innermostErrorMessage, isQuarryError } from '@quarry/db/errors';
import { quarryCodeOf, isQuarryClientError } from '@quarry/client';
import { TRPCError } from '@trpc/server';
import { ConfigError, loadConfig, type DatabaseSettings, type ServerConfig } from '../env';
import { createProgress } from '../progress';
import type { Finding } from './doctor';
import { partitionReporter } from './partition';
import { IngestFailed, ingestInput, streamInput, type IngestSummary } from './ingest';
import type { InputSource } from './sources';
import { httpTarget, type QuarryTarget } from './target';
import { registerTransferCommands } from './transfer';
import { formatBytes, formatTable } from './table';

/**
 * The `quarry` command line, defined once with commander: parsing, `--help` for every command and
 * the errors for a wrong command line all come from these definitions.
 * Exit codes: 0 done, 1 failed, 2 the command line was wrong.
 */

/** A command line that parses but makes no sense (exit 2). */
class UsageError extends Error {
  override readonly name = 'UsageError';
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

type Env = Readonly<Record<string, string | undefined>>;
type SearchInput = RouterInputs['search']['query'];

interface ConnectionOptions {
  url?: string;
  apiKey?: string;
  databaseUrl?: string;
  dataDir?: string;
}

interface Connection {
  url: string | undefined;
  apiKey: string | undefined;
  config: ServerConfig;
}

function connection(values: ConnectionOptions, env: Env, cwd: string): Connection {
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
  if (values.dataDir) {
    for (const name of postgresOnly) delete databaseEnv[name];
    databaseEnv.QUARRY_DATA_DIR = values.dataDir;
  }
  if (values.databaseUrl) {
    delete databaseEnv.QUARRY_DATA_DIR;
    databaseEnv.DATABASE_URL = values.databaseUrl;
  }
  const url =
    values.url ?? (values.dataDir || values.databaseUrl ? undefined : env.QUARRY_URL || undefined);
  return {
    url,
    apiKey: values.apiKey ?? (env.QUARRY_API_KEY || undefined),
    config: loadConfig(databaseEnv, cwd),
  };
}

/** `create`: the command writes, so it may create the embedded database (as the server does). */
async function openTarget(conn: Connection, create: boolean): Promise<QuarryTarget> {
  if (conn.url) return httpTarget(conn.url, conn.apiKey);
  // Database code is loaded only by the commands that open a database: through a server, the
  // CLI starts in about half the time without it.
  const { databaseTarget } = await import('./database-target');
  return databaseTarget(conn.config.database, conn.config.openai, { create });
}

function databaseOnly(conn: Connection, command: string): DatabaseSettings {
  if (conn.url)
    throw new UsageError(
      `quarry ${command} works on the database, not through a server: pass --database-url or --data-dir instead of --url`,
    );
  return conn.config.database;
}

// Option values, checked as they are parsed: commander reports a bad one with the option's name.
function wholeNumber(min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min)
      throw new InvalidArgumentError(`It must be a whole number of at least ${min}.`);
    return parsed;
  };
}

function finiteNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed))
    throw new InvalidArgumentError('It must be a number.');
  return parsed;
}

function jsonValue(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new InvalidArgumentError('It must be JSON.');
  }
}

function numberArray(value: string): number[] {
  const parsed = jsonValue(value);
  if (!Array.isArray(parsed) || !parsed.every((component) => typeof component === 'number'))
    throw new InvalidArgumentError('It must be a JSON array of numbers.');
  return parsed;
}

const CONNECTION_GROUP =
  'Where it connects (the first given; else QUARRY_URL, DATABASE_URL, QUARRY_DATA_DIR):';

/** The options every command that reaches Quarry takes. */
function withConnection(command: Command): Command {
  return command
    .addOption(
      new Option('--url <url>', 'a running Quarry server (env QUARRY_URL)').helpGroup(
        CONNECTION_GROUP,
      ),
    )
    .addOption(
      new Option('--api-key <key>', "the server's API key (env QUARRY_API_KEY)").helpGroup(
        CONNECTION_GROUP,
      ),
    )
    .addOption(
      new Option(
        '--database-url <url>',
        'PostgreSQL directly (env DATABASE_URL, with DATABASE_POOLED, DATABASE_REPLICA_URLS, ...)',
      ).helpGroup(CONNECTION_GROUP),
    )
    .addOption(
      new Option(
        '--data-dir <dir>',
        "the embedded database (env QUARRY_DATA_DIR; default the server's, apps/server/.quarry-data)",
      ).helpGroup(CONNECTION_GROUP),
    );
}

interface IngestOptions extends ConnectionOptions {
  collection: string;
  tenant?: string;
  /** Unset: 100 per request on a database, the server's chunk size on a stream. */
  batchSize?: number;
  resumeFromLine?: number;
  concurrency: number;
  chunkSize: number;
  chunkOverlap: number;
  format?: 'jsonl' | 'text' | 'markdown';
  create?: boolean;
  /** With `create`: the new collection's; unset, the API's default. */
  textSearchConfig?: TextSearchConfig;
  json?: boolean;
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
  out(`  inserted: ${summary.inserted}`);
  out(`  updated: ${summary.updated}`);
  out(`  already stored: ${summary.unchanged}  (unchanged: not written again)`);
  out(`  duplicates in this run: ${summary.duplicates}  (not sent)`);
  if (summary.stream) {
    const { index, ms } = summary.stream;
    const action =
      index.action === 'deferred-rebuilt'
        ? `built once after the load (${(index.ms / 1000).toFixed(1)}s)`
        : index.action === 'none'
          ? 'none (the collection has no vector index)'
          : 'maintained row by row';
    out(
      `  index: ${action}; searchable ${(ms.untilSearchable / 1000).toFixed(1)}s after the start`,
    );
  }
  if (summary.storedCheck === 'unsupported')
    out(
      '  (the server is older than documents.stored, so every document was sent; it stored only what changed)',
    );
}

/** Stdin is JSONL when its first non-blank character opens an object. Reads ahead without losing anything. */
async function sniffStdinFormat(io: Io): Promise<'jsonl' | 'text'> {
  const first = await io.peekStdin();
  return first.trimStart().startsWith('{') ? 'jsonl' : 'text';
}

async function ingest(
  paths: string[],
  options: IngestOptions,
  env: Env,
  cwd: string,
  io: Io,
): Promise<number> {
  if (options.chunkOverlap >= options.chunkSize)
    throw new UsageError(
      `--chunk-overlap must be below --chunk-size (${options.chunkSize}), got ${options.chunkOverlap}`,
    );
  let source: InputSource;
  if (paths.length === 0 || (paths.length === 1 && paths[0] === '-')) {
    if (io.stdin.isTTY) throw new UsageError('give files or directories, or pipe data into stdin');
    const format = options.format ?? (await sniffStdinFormat(io));
    source = { kind: 'stdin', stream: io.stdinStream(), format };
  } else {
    source = { kind: 'files', paths };
  }
  if (options.textSearchConfig && !options.create)
    throw new UsageError(
      '--text-search-config sets up a new collection: give it with --create (an existing collection keeps its configuration)',
    );
  const { collection } = options;
  const conn = connection(options, env, cwd);
  const target = await openTarget(conn, Boolean(options.create));
  try {
    let empty = false;
    const existing = options.create
      ? (await target.listCollections()).find((c) => c.name === collection)
      : await target.getCollection(collection);
    if (!existing) {
      const created = await target.createCollection({
        name: collection,
        dimensions: OFFLINE_DIMENSIONS,
        embeddingModel: OFFLINE_MODEL,
        ...(options.textSearchConfig ? { textSearchConfig: options.textSearchConfig } : {}),
      });
      empty = true;
      io.err(
        `created collection '${collection}' (${OFFLINE_MODEL}, ${OFFLINE_DIMENSIONS} dimensions, keywords ${created.textSearchConfig})\n`,
      );
    } else {
      if (options.textSearchConfig && existing.textSearchConfig !== options.textSearchConfig)
        io.err(
          `collection '${collection}' exists with keywords ${existing.textSearchConfig}; --text-search-config ${options.textSearchConfig} applies only to a new collection\n`,
        );
      empty = existing.documentCount === 0;
    }
    const progress = createProgress({
      label: 'ingest',
      interactive: io.stderrIsTTY,
      write: (text) => io.err(text),
    });
    const tenant = options.tenant ? { tenant: options.tenant } : {};
    try {
      // Through a server: one streamed request, committed in chunks (resumable by line).
      const summary = conn.url
        ? await streamInput(
            { url: conn.url, apiKey: conn.apiKey },
            source,
            {
              collection,
              ...tenant,
              ...(options.batchSize ? { chunkSize: options.batchSize } : {}),
              chunking: { size: options.chunkSize, overlap: options.chunkOverlap },
              resumeFromLine: options.resumeFromLine ?? 1,
            },
            progress,
          )
        : await ingestInput(
            target,
            source,
            {
              collection,
              ...tenant,
              batchSize: options.batchSize ?? 100,
              concurrency: options.concurrency,
              chunking: { size: options.chunkSize, overlap: options.chunkOverlap },
              // Nothing to ask about in an empty collection.
              checkStored: !empty,
            },
            progress,
          );
      progress.finish();
      if (options.json) io.out(`${JSON.stringify({ collection, ...summary })}\n`);
      else printSummary(summary, collection, target.description, (line) => io.out(`${line}\n`));
      return 0;
    } catch (error) {
      if (!(error instanceof IngestFailed)) throw error;
      progress.finish();
      printSummary(error.summary, collection, target.description, (line) => io.err(`${line}\n`));
      io.err(
        conn.url
          ? `quarry ingest: ${error.message}\n`
          : `quarry ingest: ${error.message}\nFix it and run the same command again: what is already stored is skipped.\n`,
      );
      return 1;
    }
  } finally {
    await target.close();
  }
}

interface SearchOptions extends ConnectionOptions {
  collection: string;
  k: number;
  mode: 'vector' | 'keyword' | 'hybrid';
  filter?: unknown;
  tenant?: string;
  vector?: number[];
  minSimilarity?: number;
  exact?: boolean;
  json?: boolean;
}

async function search(
  words: string[],
  options: SearchOptions,
  env: Env,
  cwd: string,
  io: Io,
): Promise<number> {
  const text = words.join(' ').trim() || undefined;
  if (!text && options.vector === undefined)
    throw new UsageError('give query text (or --vector <json array>)');
  const { mode } = options;
  const target = await openTarget(connection(options, env, cwd), false);
  try {
    const input: SearchInput = {
      collection: options.collection,
      mode,
      k: options.k,
      exact: options.exact ?? false,
    };
    if (text) input.text = text;
    if (options.vector !== undefined) input.vector = options.vector;
    // The filter's shape is checked by the API's own input schema, as for any caller.
    if (options.filter !== undefined) input.filter = options.filter as SearchInput['filter'];
    if (options.tenant) input.tenant = options.tenant;
    if (options.minSimilarity !== undefined) input.minSimilarity = options.minSimilarity;
    const response = await target.search(input);
    if (options.json) {
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

async function listCollections(
  options: ConnectionOptions & { json?: boolean },
  env: Env,
  cwd: string,
  io: Io,
): Promise<number> {
  const target = await openTarget(connection(options, env, cwd), false);
  try {
    const all = await target.listCollections();
    if (options.json) {
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
        : c.tenant !== null
          ? `not shown to tenant ${c.tenant}`
          : 'MISSING',
    ]);
    io.out(
      `${formatTable(['name', 'documents', 'dimensions', 'metric', 'model', 'index'], rows, { alignRight: [false, true, true] })}\n`,
    );
    return 0;
  } finally {
    await target.close();
  }
}

interface CreateOptions extends ConnectionOptions {
  dimensions: number;
  model: string;
  metric: 'cosine' | 'l2' | 'inner_product';
  m: number;
  efConstruction?: number;
  textSearchConfig: TextSearchConfig;
  json?: boolean;
}

/**
 * `--text-search-config` of `collections create` and `ingest --create`: an unknown name is refused
 * with the choices (exit 2). No default here: `ingest` tells given from not given.
 */
function textSearchConfigOption(prefix = ''): Option {
  return new Option(
    '--text-search-config <name>',
    `${prefix}keyword search's PostgreSQL text-search configuration: a language (stems, drops stop words) or simple (words as written)`,
  ).choices(textSearchConfigs);
}

async function createCollection(
  name: string,
  options: CreateOptions,
  env: Env,
  cwd: string,
  io: Io,
): Promise<number> {
  const target = await openTarget(connection(options, env, cwd), true);
  try {
    const created = await target.createCollection({
      name,
      dimensions: options.dimensions,
      embeddingModel: options.model,
      metric: options.metric,
      hnsw: { m: options.m, efConstruction: options.efConstruction ?? Math.max(64, 2 * options.m) },
      textSearchConfig: options.textSearchConfig,
    });
    if (options.json) io.out(`${JSON.stringify(created, null, 2)}\n`);
    else
      io.out(
        `created collection '${created.name}': ${created.dimensions} dimensions, ${created.metric}, model ${created.embeddingModel}, keywords ${created.textSearchConfig}, index ${created.index?.name ?? 'none'}\n`,
      );
    return 0;
  } finally {
    await target.close();
  }
}

async function migrateDatabase(
  options: ConnectionOptions,
  env: Env,
  cwd: string,
  io: Io,
): Promise<number> {
  const settings = databaseOnly(connection(options, env, cwd), 'migrate');
  const [{ describeDatabase, openDatabase }, { migrate }] = await Promise.all([
    import('../services'),
    import('@quarry/db'),
  ]);
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

interface PartitionCommandOptions extends ConnectionOptions {
  by: PartitionKey;
  method: PartitionMethod;
  partitions: number;
  batchSize: number;
  keepOld?: boolean;
  abort?: boolean;
}

async function partition(
  options: PartitionCommandOptions,
  env: Env,
  cwd: string,
  io: Io,
): Promise<number> {
  const settings = databaseOnly(connection(options, env, cwd), 'partition');
  if (settings.driver !== 'postgres')
    throw new UsageError(
      'quarry partition works on a PostgreSQL server: pass --database-url (or set DATABASE_URL)',
    );
  const [{ openDatabase }, { abortPartitioning, partitionDocuments }] = await Promise.all([
    import('../services'),
    import('@quarry/db/partition'),
  ]);
  const { database, replicas } = await openDatabase(settings, 'quarry-partition');
  try {
    if (options.abort) {
      io.out(
        (await abortPartitioning(database))
          ? 'aborted: dropped documents_partitioned and the mirror trigger; documents is unchanged\n'
          : 'nothing to abort: no partitioning is in progress\n',
      );
      return 0;
    }
    await partitionDocuments(
      database,
      {
        key: options.by,
        method: options.method,
        partitions: options.partitions,
        batchSize: options.batchSize,
        keepOld: options.keepOld ?? false,
      },
      partitionReporter(io),
    );
    return 0;
  } finally {
    await Promise.allSettled([database.close(), ...replicas.map((replica) => replica.close())]);
  }
}

/** Checks only: an embedded database that is not there is reported, never created. */
async function doctor(
  options: ConnectionOptions & { json?: boolean },
  env: Env,
  cwd: string,
  io: Io,
): Promise<number> {
  const conn = connection(options, env, cwd);
  const settings = conn.config.database;
  const [{ embeddedDatabaseIn, noEmbeddedDatabase, openDatabase }, doctorChecks] =
    await Promise.all([import('../services'), import('./doctor')]);
  const { diagnoseDatabase, diagnoseServer, formatFindings } = doctorChecks;
  let findings: Finding[];
  const embeddedState =
    settings.driver === 'embedded' ? embeddedDatabaseIn(settings.dataDir) : undefined;
  if (conn.url) {
    findings = await diagnoseServer(conn.url, conn.apiKey);
  } else if (settings.driver === 'embedded' && embeddedState !== 'present') {
    findings = [
      {
        verdict: 'fail',
        check: 'database',
        detail: noEmbeddedDatabase(settings.dataDir, embeddedState ?? 'missing'),
      },
    ];
  } else {
    const { database, replicas } = await openDatabase(settings, 'quarry-doctor');
    try {
      findings = await diagnoseDatabase(settings, database, replicas);
    } finally {
      await Promise.allSettled([database.close(), ...replicas.map((replica) => replica.close())]);
    }
  }
  io.out(options.json ? `${JSON.stringify(findings, null, 2)}\n` : `${formatFindings(findings)}\n`);
  return findings.some((finding) => finding.verdict === 'fail') ? 1 : 0;
}

/** `quarry collections create`, for messages. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * The program, built for one run: each action stores its exit code in `exit`. Help and commander's
 * own errors go to `io`; errors thrown by an action are left to runCli.
 */
function buildProgram(env: Env, cwd: string, io: Io, exit: { code: number }): Command {
  const program = new Command('quarry')
    .description(
      'a command line for Quarry: ingest, search, collections, migrate, partition, doctor, reembed, export, import',
    )
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) })
    .showSuggestionAfterError();
  program.addHelpText(
    'after',
    `
Each command takes --url, --database-url or --data-dir (see \`quarry <command> --help\`).
Exit codes: 0 done, 1 failed, 2 the command line was wrong.`,
  );
  const run =
    <A extends unknown[]>(action: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      exit.code = await action(...args);
    };

  withConnection(
    program
      .command('ingest')
      .description(
        'chunk Markdown and text files, read JSONL, and store them in a collection; what is already stored is not sent again',
      )
      .argument(
        '[paths...]',
        'files or directories (hidden entries and node_modules skipped); none or "-": stdin',
      )
      .requiredOption('-c, --collection <name>', 'the collection to write to')
      .option('--tenant <id>', 'the tenant to write to')
      .option(
        '--create',
        `create the collection (offline model, ${OFFLINE_DIMENSIONS} dimensions) if it does not exist`,
      )
      .addOption(textSearchConfigOption('with --create: '))
      .option(
        '--batch-size <n>',
        "documents per request (default 100), or per committed chunk through a server (default: the server's batch limit)",
        wholeNumber(1),
      )
      .option(
        '--resume-from-line <n>',
        'through a server: start at this document of the input (the line after the last one a cut-off run reported stored)',
        wholeNumber(1),
      )
      .option(
        '--concurrency <n>',
        'requests in flight (1 on the embedded database)',
        wholeNumber(1),
        4,
      )
      .option(
        '--chunk-size <n>',
        'most characters in a chunk of a text or Markdown file',
        wholeNumber(50),
        1000,
      )
      .option('--chunk-overlap <n>', 'characters repeated between chunks', wholeNumber(0), 150)
      .addOption(
        new Option(
          '--format <format>',
          'what stdin holds (default: jsonl if it starts with "{", else text)',
        ).choices(['jsonl', 'text', 'markdown']),
      )
      .option('--json', 'print the summary as JSON')
      .addHelpText(
        'after',
        `
JSONL lines: {"content": "...", "metadata": {...}, "embedding": [...], "id": "..."}; only content is required.
An embedding is an array of numbers, or base64 of little-endian float32 (OpenAI's encoding_format "base64").
Through a server (--url), the input goes as one stream (vectors as base64 float32) that the server
commits in chunks; documents it already stores unchanged are not written again. A run that fails or
is cut off prints the line to resume from (--resume-from-line). On a database, each batch first asks
which of its documents are already stored and sends only the rest: rerunning resumes it.
A repeat of an earlier document of the same run is not sent.`,
      ),
  ).action(run((paths: string[], options: IngestOptions) => ingest(paths, options, env, cwd, io)));

  withConnection(
    program
      .command('search')
      .description('search a collection: nearest neighbours, keywords, or both')
      .argument('[text...]', 'the query text')
      .requiredOption('-c, --collection <name>', 'the collection to search')
      .option('--k <n>', 'results', wholeNumber(1), 10)
      .addOption(
        new Option('--mode <mode>', 'how to search')
          .choices(['vector', 'keyword', 'hybrid'])
          .default('vector'),
      )
      .option(
        '--filter <json>',
        'a metadata filter, e.g. {"key":"heading","op":"eq","value":"Install"}',
        jsonValue,
      )
      .option(
        '--vector <json>',
        'a query vector (a JSON array of numbers) instead of text',
        numberArray,
      )
      .option('--min-similarity <x>', 'leave out results less similar than this', finiteNumber)
      .option('--exact', 'exact search (scan every row) instead of the HNSW index')
      .option('--tenant <id>', 'search only this tenant')
      .option('--json', 'print the response as JSON'),
  ).action(run((words: string[], options: SearchOptions) => search(words, options, env, cwd, io)));

  const collections = program.command('collections').description('list collections, or create one');
  withConnection(
    collections
      .command('list', { isDefault: true })
      .description(
        'documents, dimensions, metric, model and index state of each collection (the default)',
      )
      .option('--json', 'print them as JSON'),
  ).action(
    run((options: ConnectionOptions & { json?: boolean }) =>
      listCollections(options, env, cwd, io),
    ),
  );
  withConnection(
    collections
      .command('create')
      .description('create a collection and its HNSW index')
      .argument('<name>', 'lowercase letters, digits, "-" and "_"')
      .option('--dimensions <n>', 'vector dimensions', wholeNumber(1), OFFLINE_DIMENSIONS)
      .option('--model <model>', 'embedding model', OFFLINE_MODEL)
      .addOption(
        new Option('--metric <metric>', 'distance')
          .choices(['cosine', 'l2', 'inner_product'])
          .default('cosine'),
      )
      .option('--m <n>', 'HNSW m', wholeNumber(2), 16)
      .option(
        '--ef-construction <n>',
        'HNSW ef_construction (default: max(64, 2 × m))',
        wholeNumber(4),
      )
      .addOption(textSearchConfigOption().default(DEFAULT_TEXT_SEARCH_CONFIG))
      .option('--json', 'print the collection as JSON'),
  ).action(
    run((name: string, options: CreateOptions) => createCollection(name, options, env, cwd, io)),
  );

  withConnection(
    program
      .command('migrate')
      .description(
        'apply the database migrations (creates the embedded database if there is none)',
      ),
  ).action(run((options: ConnectionOptions) => migrateDatabase(options, env, cwd, io)));

  withConnection(
    program
      .command('partition')
      .description(
        'turn documents into a partitioned table online, in steps that resume where a stopped run left off',
      )
      .addOption(
        new Option('--by <key>', 'the partition key').choices(partitionKeys).makeOptionMandatory(),
      )
      .addOption(
        new Option(
          '--method <method>',
          'hash, or list (one partition per value present, plus a default)',
        )
          .choices(partitionMethods)
          .default('hash'),
      )
      .option('--partitions <n>', 'hash partitions', wholeNumber(2), 8)
      .option('--batch-size <n>', 'rows copied per transaction', wholeNumber(1), 10_000)
      .option('--keep-old', 'keep the old table as documents_unpartitioned')
      .option('--abort', 'drop what an unfinished run made; documents stays as it is'),
  ).action(run((options: PartitionCommandOptions) => partition(options, env, cwd, io)));

  withConnection(
    program
      .command('doctor')
      .description(
        'check the database (or, with --url, a running server): one verdict per line; creates nothing',
      )
      .option('--json', 'print the findings as JSON'),
  ).action(run((options: ConnectionOptions & { json?: boolean }) => doctor(options, env, cwd, io)));

  registerTransferCommands(program, {
    withConnection,
    run,
    connect: (options: ConnectionOptions) => {
      const conn = connection(options, env, cwd);
      return {
        remote: conn.url ? { url: conn.url, apiKey: conn.apiKey } : undefined,
        open: (create) => openTarget(conn, create),
      };
    },
    wholeNumber,
    jsonValue,
    io,
    stdout: process.stdout,
  });

  // Commander's own errors name the command they are about, as the CLI's other errors do.
  const nameErrors = (command: Command) => {
    command.showHelpAfterError(`(see \`${commandPath(command)} --help\`)`);
    command.configureOutput({
      outputError: (text, write) =>
        write(`${commandPath(command)}: ${text.replace(/^error: /, '')}`),
    });
    command.commands.forEach(nameErrors);
  };
  nameErrors(program);
  return program;
}

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
  // Drizzle's "Failed query: ..." names the statement; the database's own words are its cause.
  if (error instanceof Error && error.cause instanceof Error)
    return `${error.message}\n${innermostErrorMessage(error)}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Runs one command line; the exit code is returned, never passed to process.exit. */
export async function runCli(argv: string[], env: Env, cwd: string, io: Io): Promise<number> {
  const exit = { code: 0 };
  const program = buildProgram(env, cwd, io, exit);
  let running = program;
  program.hook('preAction', (_program, action) => {
    running = action;
  });
  // `pnpm quarry -- <args>` passes its `--` on to the script.
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  try {
    await program.parseAsync(args, { from: 'user' });
    return exit.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help asked for is a success; help shown because no command was given is a usage error.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      if (error.code === 'commander.help') return error.exitCode === 0 ? 0 : 2;
      return 2;
    }
    io.err(`${commandPath(running)}: ${describeError(error)}\n`);
    if (error instanceof UsageError) return 2;
    return 1;
  }
}
