import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Readable, type Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import type { RouterInputs } from '@quarry/api';
import type { ExportHeader, VectorEncoding } from '@quarry/api/export';
import { createProgress } from '../progress';
import type { Io } from './commands';
import type { databaseTarget } from './database-target';
import type { QuarryTarget } from './target';

type DatabaseTarget = Awaited<ReturnType<typeof databaseTarget>>;

/** A target in this process (`databaseTarget`), not a server over HTTP. */
function inProcess(target: QuarryTarget): target is DatabaseTarget {
  return 'database' in target && 'embeddings' in target;
}

/** The re-embed worker of a database opened in this process (loaded only when one runs here). */
async function startWorker(target: DatabaseTarget) {
  const { startReembedWorker } = await import('@quarry/api/reembed');
  return startReembedWorker(target.database, target.embeddings, { pollMs: 1_000 });
}

/**
 * `quarry reembed`, `quarry export` and `quarry import`: moving a collection to another model, and
 * its documents out and back in (backups, the embedded database to a server, one cluster to another).
 */

/** Where a command goes: a running server, or the database in this process. */
export interface TransferConnection {
  remote: { url: string; apiKey: string | undefined } | undefined;
  open: (create: boolean) => Promise<QuarryTarget>;
}

export interface ReembedOptions {
  provider?: string;
  model?: string;
  dimensions?: number;
  cancel?: boolean;
  wait: boolean;
}

/** 'quarry/wink-sg-100d', or a provider and a model: `--provider openai-compatible --model x`. */
function modelId(options: ReembedOptions): string {
  if (!options.model)
    throw new RangeError('give --model (and --provider, unless --model is a full model id)');
  return options.provider ? `${options.provider}/${options.model}` : options.model;
}

export async function reembed(
  collection: string,
  options: ReembedOptions,
  conn: TransferConnection,
  io: Io,
): Promise<number> {
  const target = await conn.open(false);
  try {
    if (options.cancel) {
      const cancelled = await target.reembedCancel(collection);
      io.out(
        `cancelled the re-embed of '${collection}' with ${cancelled.to.model}; it keeps ${cancelled.from.model}\n`,
      );
      return 0;
    }
    const input: RouterInputs['reembed']['start'] = { collection, model: modelId(options) };
    if (options.dimensions !== undefined) input.dimensions = options.dimensions;
    const started = await target.reembedStart(input);
    io.err(
      `re-embedding '${collection}': ${started.from.model} (${started.from.dimensions}) -> ${started.to.model} (${started.to.dimensions}), ${started.total} documents; searches use the old vectors until the switch\n`,
    );
    if (!options.wait) return 0;
    // On a server, its worker does the work; on a database opened here, this process does.
    const worker = inProcess(target) ? await startWorker(target) : undefined;
    const progress = createProgress({
      label: `re-embed ${collection}`,
      total: started.total,
      interactive: io.stderrIsTTY,
      write: (text) => io.err(text),
      intervalMs: io.stderrIsTTY ? 200 : 2_000,
    });
    try {
      for (;;) {
        const now = await target.reembedProgress(collection);
        if (!now || now.job !== started.job)
          throw new Error(`the re-embed job ${started.job} is gone`);
        progress.setTotal(now.total);
        progress.update(now.done);
        if (now.state === 'done') {
          progress.finish();
          io.out(
            `switched '${collection}' to ${now.to.model} (${now.to.dimensions} dimensions): ${now.total} documents, ${now.embedded} vectors made\n`,
          );
          return 0;
        }
        if (now.state === 'cancelled') {
          progress.finish();
          io.err(`the re-embed of '${collection}' was cancelled\n`);
          return 1;
        }
        if (now.lastError) io.err(`retrying after: ${now.lastError}\n`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    } finally {
      await worker?.stop();
    }
  } finally {
    await target.close();
  }
}

export interface ExportOptions {
  out?: string;
  vectors: VectorEncoding;
  filter?: unknown;
  tenant?: string;
  shape: 'export' | 'ingest';
}

/** An export's first line, its collection's settings (packages/api/src/export.ts), not a document. */
const isSettingsLine = (line: string) => line.startsWith('{"collection":');

/** Writes `text`, waiting while the destination's buffer is full. */
async function write(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

export async function exportCollection(
  collection: string,
  options: ExportOptions,
  conn: TransferConnection,
  io: Io,
  stdout: Writable,
): Promise<number> {
  const destination = options.out ? createWriteStream(options.out) : stdout;
  const progress = createProgress({
    label: `export ${collection}`,
    interactive: io.stderrIsTTY,
    write: (text) => io.err(text),
  });
  let count = 0;
  try {
    if (conn.remote) {
      const url = new URL(
        `/api/collections/${encodeURIComponent(collection)}/export`,
        conn.remote.url,
      );
      url.searchParams.set('vectors', options.vectors);
      url.searchParams.set('shape', options.shape);
      if (options.tenant) url.searchParams.set('tenant', options.tenant);
      if (options.filter !== undefined)
        url.searchParams.set('filter', JSON.stringify(options.filter));
      const response = await fetch(url, {
        headers: conn.remote.apiKey ? { authorization: `Bearer ${conn.remote.apiKey}` } : {},
      });
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
        throw new Error(`${response.status}: ${body.error?.message ?? response.statusText}`);
      }
      const lines = createInterface({
        input: Readable.fromWeb(response.body),
        crlfDelay: Infinity,
      });
      for await (const line of lines) {
        if (line.startsWith('{"error":')) throw new Error(`the server stopped the export: ${line}`);
        await write(destination, `${line}\n`);
        if (!isSettingsLine(line)) progress.update(++count);
      }
    } else {
      const target = await conn.open(false);
      try {
        if (!inProcess(target)) throw new Error('expected the database, not a server');
        const [{ openAccess }, { openExport }] = await Promise.all([
          import('@quarry/api'),
          import('@quarry/api/export'),
        ]);
        const { lines } = await openExport(target.database, openAccess, collection, {
          vectors: options.vectors,
          shape: options.shape,
          tenant: options.tenant,
          filter: options.filter,
        });
        for await (const line of lines) {
          await write(destination, `${line}\n`);
          if (!isSettingsLine(line)) progress.update(++count);
        }
      } finally {
        await target.close();
      }
    }
  } finally {
    progress.finish();
    if (destination !== stdout) {
      destination.end();
      await once(destination, 'close');
    }
  }
  io.err(
    `exported ${count} documents of '${collection}'${options.out ? ` to ${options.out}` : ''}\n`,
  );
  return 0;
}

export interface ImportOptions {
  batchSize: number;
}

interface ImportLine {
  tenant?: string;
  externalId?: string;
  content: string;
  metadata?: Record<string, unknown>;
  embedding?: number[] | string | null;
}

/** The export's settings that `collection` does not share, as `name: export's (collection's)`. */
function differingSettings(
  exported: ExportHeader['collection'],
  collection: ExportHeader['collection'],
): string[] {
  const shown = (settings: ExportHeader['collection']) => ({
    dimensions: String(settings.dimensions),
    metric: settings.metric,
    model: settings.embeddingModel,
    hnsw: `m ${settings.hnsw.m}, ef_construction ${settings.hnsw.efConstruction}`,
    textSearchConfig: settings.textSearchConfig,
  });
  const theirs = shown(exported);
  const ours = shown(collection);
  return Object.entries(theirs)
    .filter(([name, value]) => ours[name as keyof typeof ours] !== value)
    .map(([name, value]) => `${name} ${value} (here ${ours[name as keyof typeof ours]})`);
}

/**
 * An export's settings line: creates the collection with them when it does not exist; an existing
 * one keeps its own settings, and the ones that differ are named.
 */
async function applySettings(
  target: QuarryTarget,
  collection: string,
  settings: ExportHeader['collection'],
  io: Io,
): Promise<void> {
  const existing = (await target.listCollections()).find((c) => c.name === collection);
  if (!existing) {
    const created = await target.createCollection({ ...settings, name: collection });
    io.err(
      `created collection '${collection}' with the export's settings: ${created.dimensions} dimensions, ${created.metric}, model ${created.embeddingModel}, keywords ${created.textSearchConfig}\n`,
    );
    return;
  }
  const differences = differingSettings(settings, existing);
  if (differences.length > 0)
    io.err(
      `collection '${collection}' keeps its own settings; the export's differ: ${differences.join('; ')}\n`,
    );
}

/**
 * Reads an export (a file, or stdin) and writes it through `documents.ingest`, a batch at a time,
 * each tenant's documents to that tenant (a key bound to a tenant writes to its own). Fields an
 * ingest cannot set (the document id, timestamps) are dropped: the documents get new ids and
 * timestamps; external ids, content, metadata and vectors arrive as they were. The export's first
 * line, its collection's settings, creates the collection if it does not exist (`applySettings`).
 */
export async function importCollection(
  collection: string,
  path: string | undefined,
  options: ImportOptions,
  conn: TransferConnection,
  io: Io,
): Promise<number> {
  const input = path && path !== '-' ? createReadStream(path) : io.stdinStream();
  const { exportHeaderOf } = await import('@quarry/api/export');
  const { BASE64_VECTOR_FORM, decodeBase64Vector } = await import('@quarry/api/vector-base64');
  const target = await conn.open(true);
  const progress = createProgress({
    label: `import ${collection}`,
    interactive: io.stderrIsTTY,
    write: (text) => io.err(text),
  });
  const totals = { documents: 0, inserted: 0, updated: 0, unchanged: 0 };
  let batch: RouterInputs['documents']['ingest']['documents'] = [];
  let batchTenant: string | undefined;
  const flush = async () => {
    if (batch.length === 0) return;
    const result = await target.ingest({
      collection,
      ...(batchTenant === undefined ? {} : { tenant: batchTenant }),
      documents: batch,
    });
    totals.documents += batch.length;
    totals.inserted += result.inserted;
    totals.updated += result.updated;
    totals.unchanged += result.unchanged;
    progress.update(totals.documents);
    batch = [];
  };
  try {
    let number = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      number++;
      if (text.trim() === '') continue;
      let line: ImportLine;
      try {
        line = JSON.parse(text) as ImportLine;
      } catch {
        throw new Error(`line ${number} is not JSON`);
      }
      const header =
        totals.documents === 0 && batch.length === 0 ? exportHeaderOf(line) : undefined;
      if (header) {
        await applySettings(target, collection, header.collection, io);
        continue;
      }
      if (typeof line.content !== 'string') throw new Error(`line ${number} has no content`);
      if (line.tenant !== batchTenant) {
        await flush();
        batchTenant = line.tenant;
      }
      const item: (typeof batch)[number] = { content: line.content };
      if (line.externalId !== undefined) item.externalId = line.externalId;
      if (line.metadata !== undefined) item.metadata = line.metadata as typeof item.metadata;
      if (typeof line.embedding === 'string') {
        const decoded = decodeBase64Vector(line.embedding);
        if (!decoded) throw new Error(`line ${number}: embedding is not ${BASE64_VECTOR_FORM}`);
        item.embedding = Array.from(decoded);
      } else if (Array.isArray(line.embedding)) item.embedding = line.embedding;
      batch.push(item);
      if (batch.length >= options.batchSize) await flush();
    }
    await flush();
  } finally {
    progress.finish();
    await target.close();
  }
  io.out(
    `imported ${totals.documents} documents into '${collection}': ${totals.inserted} inserted, ${totals.updated} updated, ${totals.unchanged} unchanged\n`,
  );
  return 0;
}

/** What the commands module lends these commands: its connection options and helpers. */
export interface TransferCommandDeps<ConnectionOptions> {
  withConnection: (command: Command) => Command;
  run: <A extends unknown[]>(
    action: (...args: A) => Promise<number>,
  ) => (...args: A) => Promise<void>;
  connect: (options: ConnectionOptions) => TransferConnection;
  wholeNumber: (min: number) => (value: string) => number;
  jsonValue: (value: string) => unknown;
  io: Io;
  stdout: Writable;
}

export function registerTransferCommands<ConnectionOptions>(
  program: Command,
  deps: TransferCommandDeps<ConnectionOptions>,
): void {
  const { withConnection, run, connect, io } = deps;
  withConnection(
    program
      .command('reembed')
      .description(
        'move a collection to another embedding model online: searches use the old vectors until the switch; progress to the end',
      )
      .argument('<collection>', 'the collection')
      .option(
        '--provider <provider>',
        "the model's provider: quarry (offline) or openai-compatible",
      )
      .option(
        '--model <model>',
        'the model, e.g. text-embedding-3-small (with --provider) or a full id such as quarry/wink-sg-100d',
      )
      .option(
        '--dimensions <n>',
        "the model's dimensions (checked against the server's)",
        deps.wholeNumber(1),
      )
      .option(
        '--no-wait',
        'start the job and return: a server runs it (on a database opened here: the next server started on it)',
      )
      .option('--cancel', 'cancel the unfinished re-embed (before its switch)'),
  ).action(
    run((collection: string, options: ReembedOptions & ConnectionOptions) =>
      reembed(collection, options, connect(options), io),
    ),
  );
  withConnection(
    program
      .command('export')
      .description(
        'write a collection (or a filtered part) as NDJSON with vectors, to stdout or --out',
      )
      .argument('<collection>', 'the collection')
      .option('--out <file>', 'write to this file instead of stdout')
      .addOption(
        new Option('--vectors <encoding>', 'JSON arrays, or base64 of little-endian float32')
          .choices(['json', 'base64'])
          .default('json'),
      )
      .addOption(
        new Option(
          '--shape <shape>',
          'ingest: only the fields an ingest accepts (no ids, tenants, times)',
        )
          .choices(['export', 'ingest'])
          .default('export'),
      )
      .option('--filter <json>', 'a metadata filter, as in search', deps.jsonValue)
      .option('--tenant <id>', 'only this tenant'),
  ).action(
    run((collection: string, options: ExportOptions & ConnectionOptions) =>
      exportCollection(collection, options, connect(options), io, deps.stdout),
    ),
  );
  withConnection(
    program
      .command('import')
      .description(
        "read an export (NDJSON) into a collection through the ingest; one that does not exist is created with the export's settings",
      )
      .argument(
        '<collection>',
        'the collection to write to (an existing one keeps its settings; differences are named)',
      )
      .argument('[file]', 'the export; none or "-": stdin')
      .option('--batch-size <n>', 'documents per ingest request', deps.wholeNumber(1), 500),
  ).action(
    run(
      (collection: string, file: string | undefined, options: ImportOptions & ConnectionOptions) =>
        importCollection(collection, file, options, connect(options), io),
    ),
  );
}
