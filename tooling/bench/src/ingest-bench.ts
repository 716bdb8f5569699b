import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureVectorIndex, sql, type Collection, type Database } from '@quarry/db';
import { ingestItems, vectorOf, type Corpus } from './corpus';
import { guideWriterOnPostgres, GUIDE_SCHEMA_SQL } from './guide';
import { langchainStore } from './langchain';
import { progress } from './log';
import {
  cliIngest,
  requestBody,
  startQuarryServer,
  streamIngest,
  writeLines,
  type QuarryServerProcess,
} from './quarry-process';
import { encodeCopyData, rawBinaryCopy, type RawRow } from './raw-copy';
import { quarryDatabase, type ScratchDatabase, type ScratchServer } from './scratch';
import { round } from './stats';
import { createBenchCollection, quarryBulkIngest } from './systems';

export type IngestMethod =
  | 'guide-batched'
  | 'langchain'
  | 'raw-copy'
  | 'quarry-http-stream'
  | 'quarry-cli'
  | 'quarry-cli-base64'
  | 'quarry-in-process';
/**
 * `no-index`: into a new collection without an HNSW index (load rate). `until-searchable`: into a
 * new collection, until it is searchable through its index (load plus index build). `index-present`:
 * more documents into a collection that already holds the corpus with its index.
 */
export type IngestMode = 'no-index' | 'until-searchable' | 'index-present';

export interface IngestMeasurement {
  method: IngestMethod;
  mode: IngestMode;
  docs: number;
  /** Seconds of each run. */
  runs: number[];
  /** Median over the runs. */
  seconds: number;
  min: number;
  max: number;
  /** `docs` / median seconds. */
  docsPerSecond: number;
  /** The Quarry server's peak resident memory during its loads (streaming ingest). */
  serverRssMiB?: number;
  /** What Quarry did with the index (its answer's `index.action`). */
  indexAction?: string;
}

export interface IngestReport {
  runs: number;
  measurements: IngestMeasurement[];
  /** Building the collection's HNSW index after the in-process load (Quarry's ensureVectorIndex). */
  indexBuildSeconds: number;
  /** The database kept for the search benchmarks, with the loaded collection indexed. */
  search: { database: Database; url: string; collection: Collection };
}

export interface IngestOptions {
  /** false: only the Quarry load the search benchmarks need, no comparison. */
  compare: boolean;
  docs: number;
  /** Documents loaded into a collection that already holds `docs` with its index. */
  indexedIngestDocs: number;
  /** Times each figure is measured (median and spread reported). */
  ingestRuns: number;
}

/** Rows per INSERT statement for the guide's batched pattern (and LangChain's default chunk). */
const GUIDE_ROWS_PER_INSERT = 500;
/** Rows per call to LangChain's addVectors (it splits them into INSERTs of 500 itself). */
const LANGCHAIN_ROWS_PER_CALL = 5_000;
/** Rows per in-process pipeline call (one transaction each, binary COPY). */
const IN_PROCESS_CHUNK = 10_000;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

interface Run {
  ms: number;
  rssMiB?: number;
  indexAction?: string;
}

/** The median and spread of recorded runs. */
function summarize(
  method: IngestMethod,
  mode: IngestMode,
  docs: number,
  results: Run[],
): IngestMeasurement {
  const seconds = results.map((result) => round(result.ms / 1000, 2));
  const mid = round(median(seconds), 2);
  const rss = results.flatMap((result) => (result.rssMiB ? [result.rssMiB] : []));
  const actions = [...new Set(results.flatMap((r) => (r.indexAction ? [r.indexAction] : [])))];
  progress(`  ${method} (${mode}): ${docs} docs, median ${mid}s of [${seconds.join(', ')}]`);
  return {
    method,
    mode,
    docs,
    runs: seconds,
    seconds: mid,
    min: Math.min(...seconds),
    max: Math.max(...seconds),
    docsPerSecond: round(docs / mid, 0),
    ...(rss.length > 0 ? { serverRssMiB: Math.max(...rss) } : {}),
    ...(actions.length > 0 ? { indexAction: actions.join(', ') } : {}),
  };
}

/** Runs `once` `runs` times and reports the median and spread. */
async function measure(
  method: IngestMethod,
  mode: IngestMode,
  docs: number,
  runs: number,
  once: (run: number) => Promise<Run>,
): Promise<IngestMeasurement> {
  const results: Run[] = [];
  for (let run = 0; run < runs; run++) {
    const result = await once(run);
    results.push(result);
    progress(
      `  ${method} (${mode}) run ${run + 1}/${runs}: ${docs} docs in ${round(result.ms / 1000)}s${result.rssMiB ? `, server RSS peak ${result.rssMiB} MiB` : ''}${result.indexAction ? `, index ${result.indexAction}` : ''}`,
    );
  }
  return summarize(method, mode, docs, results);
}

/** Rows [start, end) for the raw COPY; `suffix` makes them new documents (other ids and contents). */
function* rawRows(corpus: Corpus, start: number, end: number, suffix = ''): Generator<RawRow> {
  for (let row = start; row < end; row++) {
    yield {
      content: `${corpus.contents[row] ?? ''}${suffix}`,
      metadataJson: JSON.stringify(corpus.metadata[row] ?? {}),
      externalId: `${corpus.externalIds[row] ?? ''}${suffix}`,
      embedding: vectorOf(corpus, row),
    };
  }
}

/** NDJSON for the streaming endpoint: vectors as base64 float32 (what OpenAI returns with encoding_format "base64"). */
function* ndjsonLines(corpus: Corpus, start: number, end: number, suffix = ''): Generator<string> {
  for (let row = start; row < end; row++) {
    const vector = vectorOf(corpus, row);
    const bytes = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
    yield `${JSON.stringify({
      content: `${corpus.contents[row] ?? ''}${suffix}`,
      metadata: corpus.metadata[row] ?? {},
      externalId: `${corpus.externalIds[row] ?? ''}${suffix}`,
      embedding: bytes.toString('base64'),
    })}\n`;
  }
}

/**
 * JSONL as users keep it for `quarry ingest`, the external id as `id`: vectors as JSON arrays, or
 * as base64 float32 (what OpenAI returns with encoding_format "base64").
 */
function* jsonlLines(
  corpus: Corpus,
  start: number,
  end: number,
  vectors: 'numbers' | 'base64',
): Generator<string> {
  for (let row = start; row < end; row++) {
    const vector = vectorOf(corpus, row);
    yield `${JSON.stringify({
      id: corpus.externalIds[row] ?? '',
      content: corpus.contents[row] ?? '',
      metadata: corpus.metadata[row] ?? {},
      embedding:
        vectors === 'numbers'
          ? Array.from(vector)
          : Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64'),
    })}\n`;
  }
}

/** Samples the server's RSS every 100 ms while `work` runs; returns work's milliseconds and the peak. */
async function withRss<T>(
  server: QuarryServerProcess,
  work: () => Promise<T>,
): Promise<{ value: T; ms: number; rssMiB: number }> {
  let peak = await server.rssMiB();
  const timer = setInterval(() => {
    void server.rssMiB().then((now) => (peak = Math.max(peak, now)));
  }, 100);
  const started = performance.now();
  try {
    const value = await work();
    return {
      value,
      ms: performance.now() - started,
      rssMiB: Math.max(peak, await server.rssMiB()),
    };
  } finally {
    clearInterval(timer);
  }
}

/** A fresh database (migrated for Quarry) per run, so no run loads into another's leftovers. */
async function withScratch<T>(
  server: ScratchServer,
  label: string,
  work: (scratch: ScratchDatabase) => Promise<T>,
): Promise<T> {
  const scratch = await server.create(label);
  try {
    return await work(scratch);
  } finally {
    await scratch.drop();
  }
}

async function withQuarry<T>(
  server: ScratchServer,
  label: string,
  work: (scratch: ScratchDatabase, database: Database) => Promise<T>,
): Promise<T> {
  return withScratch(server, label, async (scratch) => {
    const database = await quarryDatabase(scratch);
    try {
      return await work(scratch, database);
    } finally {
      await database.close();
    }
  });
}

/**
 * Every system loads the same rows (supplied vectors) into a database of its own, one fresh
 * database per run, with a checkpoint before each timed load so one run's dirty pages stay off the
 * next one's clock. Quarry runs as users run it: the server and the CLI in child processes.
 */
export async function benchIngest(
  server: ScratchServer,
  corpus: Corpus,
  options: IngestOptions,
): Promise<IngestReport> {
  const measurements: IngestMeasurement[] = [];
  const { docs, ingestRuns: runs } = options;
  const dimensions = corpus.vectors.dimensions;
  const checkpoint = () => server.admin`checkpoint`;

  // Quarry's pipeline in process: also the database the search benchmarks use (kept, indexed).
  progress(`ingest: Quarry pipeline in process, ${docs} docs, no index during the load`);
  const quarryScratch = await server.create('quarry');
  const database = await quarryDatabase(quarryScratch);
  const collection = await createBenchCollection(database, 'bench', dimensions, {
    withIndex: false,
  });
  const inProcess = async (target: Collection, start: number, end: number) => {
    let ms = 0;
    for (let from = start; from < end; from += IN_PROCESS_CHUNK) {
      const items = ingestItems(corpus, from, Math.min(end, from + IN_PROCESS_CHUNK));
      const begin = performance.now();
      await quarryBulkIngest(database, target, items);
      ms += performance.now() - begin;
    }
    return ms;
  };
  await checkpoint();
  const firstLoad = await inProcess(collection, 0, docs);
  progress('  building the HNSW index (ensureVectorIndex)');
  const begin = performance.now();
  await ensureVectorIndex(database, collection);
  const indexBuildSeconds = round((performance.now() - begin) / 1000, 2);
  progress(`  index built in ${indexBuildSeconds}s`);
  await database.db.execute(sql`vacuum analyze documents`);
  const search = { database, url: quarryScratch.url, collection };
  if (!options.compare) {
    measurements.push(
      await measure('quarry-in-process', 'no-index', docs, 1, () =>
        Promise.resolve({ ms: firstLoad }),
      ),
    );
    return { runs: 1, measurements, indexBuildSeconds, search };
  }
  // The first load counts as run 1; more runs go into new collections of the same database.
  measurements.push(
    await measure('quarry-in-process', 'no-index', docs, runs, async (run) => {
      if (run === 0) return { ms: firstLoad };
      const again = await createBenchCollection(database, `bench-run-${run}`, dimensions, {
        withIndex: false,
      });
      await checkpoint();
      return { ms: await inProcess(again, 0, docs) };
    }),
  );

  progress(
    `ingest: load rate, ${docs} docs into a new collection without an index, ${runs} runs each`,
  );
  measurements.push(
    await measure('guide-batched', 'no-index', docs, runs, (run) =>
      withScratch(server, `guide_${run}`, async (scratch) => {
        const writer = guideWriterOnPostgres(scratch.url);
        try {
          await writer.exec(GUIDE_SCHEMA_SQL);
          await checkpoint();
          let ms = 0;
          for (let start = 0; start < docs; start += GUIDE_ROWS_PER_INSERT) {
            const rows = [];
            for (let row = start; row < Math.min(docs, start + GUIDE_ROWS_PER_INSERT); row++) {
              rows.push({
                content: corpus.contents[row] ?? '',
                metadata: corpus.metadata[row] ?? {},
                embedding: Array.from(vectorOf(corpus, row)),
              });
            }
            const started = performance.now();
            await writer.insertMany(rows);
            ms += performance.now() - started;
          }
          return { ms };
        } finally {
          await writer.close();
        }
      }),
    ),
  );

  measurements.push(
    await measure('langchain', 'no-index', docs, runs, (run) =>
      withScratch(server, `langchain_${run}`, async (scratch) => {
        const store = await langchainStore(scratch.url, dimensions);
        try {
          await checkpoint();
          let ms = 0;
          for (let start = 0; start < docs; start += LANGCHAIN_ROWS_PER_CALL) {
            const rows = [];
            for (let row = start; row < Math.min(docs, start + LANGCHAIN_ROWS_PER_CALL); row++) {
              rows.push({
                content: corpus.contents[row] ?? '',
                metadata: corpus.metadata[row] ?? {},
                embedding: Array.from(vectorOf(corpus, row)),
              });
            }
            ms += await store.add(rows);
          }
          return { ms };
        } finally {
          await store.close();
        }
      }),
    ),
  );

  /** A Quarry server on a fresh database per run, with a new collection (its index dropped unless kept). */
  const withServer = (
    label: string,
    withIndex: boolean,
    work: (server: QuarryServerProcess) => Promise<Run>,
  ) =>
    withQuarry(server, label, async (scratch, quarry) => {
      await createBenchCollection(quarry, 'bench', dimensions, { withIndex });
      const process = await startQuarryServer(scratch.url);
      try {
        await checkpoint();
        return await work(process);
      } finally {
        await process.stop();
      }
    });

  // Binary COPY, then the index build: the load rate and the time until searchable.
  const copyLoads: Run[] = [];
  const copySearchable: Run[] = [];
  const copyRun = (run: number) =>
    withQuarry(server, `raw_${run}`, async (scratch, raw) => {
      const target = await createBenchCollection(raw, 'bench', dimensions, { withIndex: false });
      const data = encodeCopyData(target.id, 'default', rawRows(corpus, 0, docs));
      await checkpoint();
      const started = performance.now();
      const ms = await rawBinaryCopy(scratch.url, data);
      await ensureVectorIndex(raw, target);
      const searchableMs = performance.now() - started;
      copyLoads.push({ ms });
      copySearchable.push({ ms: searchableMs });
      progress(
        `  raw-copy run ${run + 1}/${runs}: loaded in ${round(ms / 1000)}s, searchable after ${round(searchableMs / 1000)}s`,
      );
    });

  // A new collection as users make one (with its index), told the load's size: the server defers
  // the index. Load rate: until the last chunk is committed; until searchable: until the answer's end.
  const streamLoads: Run[] = [];
  const streamSearchable: Run[] = [];
  const streamBody = requestBody(ndjsonLines(corpus, 0, docs));
  const streamRun = (run: number) =>
    withServer(`stream_${run}`, true, async (process) => {
      const { ms, rssMiB, value } = await withRss(process, () =>
        streamIngest(process, 'bench', streamBody, { expected: String(docs) }),
      );
      const indexAction = value.index.action;
      streamLoads.push({ ms: value.lastCommitMs, rssMiB, indexAction });
      streamSearchable.push({ ms, rssMiB, indexAction });
      progress(
        `  quarry-http-stream run ${run + 1}/${runs}: loaded in ${round(value.lastCommitMs / 1000)}s, searchable after ${round(ms / 1000)}s, index ${indexAction}, server RSS peak ${rssMiB} MiB`,
      );
      return { ms };
    });

  // The CLI reads stdin (size unknown): the server defers the new collection's index anyway and
  // reports the build, which is left out of the load time as for the other rows. Its input holds
  // the vectors as JSON arrays (the common form), and again as base64 (OpenAI's other form).
  const jsonlDir = await mkdtemp(join(tmpdir(), 'quarry-bench-jsonl-'));
  type CliMethod = 'quarry-cli' | 'quarry-cli-base64';
  interface CliInput {
    vectors: 'numbers' | 'base64';
    file: string;
    loads: Run[];
    searchable: Run[];
  }
  const cliInput = (vectors: CliInput['vectors']): CliInput => ({
    vectors,
    file: join(jsonlDir, `${vectors}.jsonl`),
    loads: [],
    searchable: [],
  });
  const cli: Record<CliMethod, CliInput> = {
    'quarry-cli': cliInput('numbers'),
    'quarry-cli-base64': cliInput('base64'),
  };
  const cliMethods = Object.keys(cli) as CliMethod[];
  const cliRun = (method: CliMethod, run: number) =>
    withServer(`cli_${run}`, true, async (process) => {
      const { file, loads, searchable } = cli[method];
      const { ms, rssMiB, value } = await withRss(process, () => cliIngest(process, 'bench', file));
      const indexAction = value.index.action;
      loads.push({ ms: ms - value.index.ms, rssMiB, indexAction });
      searchable.push({ ms, rssMiB, indexAction });
      progress(
        `  ${method} run ${run + 1}/${runs}: loaded in ${round((ms - value.index.ms) / 1000)}s, searchable after ${round(ms / 1000)}s, index ${indexAction}, server RSS peak ${rssMiB} MiB`,
      );
      return { ms };
    });

  try {
    for (const { vectors, file } of Object.values(cli))
      await writeLines(jsonlLines(corpus, 0, docs, vectors), file);
    // Each round runs every path once, in turn: a machine that speeds up or slows down during the
    // part (other work on shared cores) weighs on every path alike, not on whichever ran last.
    for (let run = 0; run < runs; run++) {
      await copyRun(run);
      await streamRun(run);
      for (const method of cliMethods) await cliRun(method, run);
    }
  } finally {
    await rm(jsonlDir, { recursive: true, force: true });
  }
  measurements.push(summarize('raw-copy', 'no-index', docs, copyLoads));
  measurements.push(summarize('quarry-http-stream', 'no-index', docs, streamLoads));
  for (const method of cliMethods)
    measurements.push(summarize(method, 'no-index', docs, cli[method].loads));
  const cliSearchable = cli['quarry-cli'].searchable;

  measurements.push(summarize('raw-copy', 'until-searchable', docs, copySearchable));
  measurements.push(summarize('quarry-http-stream', 'until-searchable', docs, streamSearchable));
  measurements.push(summarize('quarry-cli', 'until-searchable', docs, cliSearchable));

  const more = options.indexedIngestDocs;
  progress(
    `ingest: ${more} docs into a collection holding ${docs} with its index, ${runs} runs each, alternating`,
  );
  // Its own collection (the search benchmarks' must keep exactly the corpus), loaded and indexed.
  const indexed = await createBenchCollection(database, 'bench-indexed', dimensions, {
    withIndex: false,
  });
  await inProcess(indexed, 0, docs);
  await ensureVectorIndex(database, indexed);
  await database.db.execute(sql`vacuum analyze documents`);
  // Each run adds new documents (own ids and contents) to the same indexed collection; the systems
  // take turns so neither always meets the larger table.
  const indexedServer = await startQuarryServer(quarryScratch.url);
  const rawRuns: Run[] = [];
  const streamRuns: Run[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const rowsFrom = (run * more) % docs;
      const rowsTo = Math.min(docs, rowsFrom + more);
      const data = encodeCopyData(
        indexed.id,
        'default',
        rawRows(corpus, rowsFrom, rowsTo, `#raw-${run}`),
      );
      await checkpoint();
      rawRuns.push({ ms: await rawBinaryCopy(quarryScratch.url, data) });
      progress(
        `  raw-copy (index-present) run ${run + 1}/${runs}: ${round((rawRuns.at(-1)?.ms ?? 0) / 1000)}s`,
      );
      const body = requestBody(ndjsonLines(corpus, rowsFrom, rowsTo, `#stream-${run}`));
      await checkpoint();
      const streamed = await withRss(indexedServer, () =>
        streamIngest(indexedServer, 'bench-indexed', body, {
          expected: String(rowsTo - rowsFrom),
        }),
      );
      streamRuns.push({
        ms: streamed.ms,
        rssMiB: streamed.rssMiB,
        indexAction: streamed.value.index.action,
      });
      progress(
        `  quarry-http-stream (index-present) run ${run + 1}/${runs}: ${round(streamed.ms / 1000)}s, index ${streamed.value.index.action}`,
      );
    }
  } finally {
    await indexedServer.stop();
  }
  const indexedDocs = Math.min(more, docs);
  measurements.push(summarize('raw-copy', 'index-present', indexedDocs, rawRuns));
  measurements.push(summarize('quarry-http-stream', 'index-present', indexedDocs, streamRuns));
  return { runs, measurements, indexBuildSeconds, search };
}
