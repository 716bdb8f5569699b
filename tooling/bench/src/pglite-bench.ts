import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { createDb, ensureVectorIndex, migrate, sql } from '@quarry/db';
import { corpus, ingestItems, rowsByExternalId, vectorOf, type Corpus } from './corpus';
import { GUIDE_SCHEMA_SQL, guideWriterOnPglite } from './guide';
import { progress } from './log';
import { benchRecall, type FilterCase, type RecallPoint } from './recall-bench';
import { round, summarize } from './stats';
import type { SearchQuery } from './search-bench';
import {
  createBenchCollection,
  guideSearchOnPglite,
  quarryBulkIngest,
  quarryCaller,
  quarrySearch,
} from './systems';

export interface PgliteReport {
  docs: number;
  createAndMigrateSeconds: number;
  ingest: Array<{
    method: 'quarry-bulk' | 'quarry-api' | 'guide-a';
    docs: number;
    seconds: number;
    docsPerSecond: number;
  }>;
  indexBuildSeconds: number;
  latencyByMode: Record<'vector' | 'keyword' | 'hybrid', { p50: number; p95: number }>;
  recall: RecallPoint[];
  coldStart: {
    firstResultMs: number;
    importsMs: number;
    openMs: number;
    migrateMs: number;
    firstSearchMs: number;
    results: number;
  };
}

const coldStartScript = fileURLToPath(new URL('./cold-start.ts', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

function parseColdStart(output: string): PgliteReport['coldStart'] {
  const parsed: unknown = JSON.parse(output);
  const number = (key: string): number => {
    const value =
      typeof parsed === 'object' && parsed !== null
        ? (parsed as Record<string, unknown>)[key]
        : undefined;
    if (typeof value !== 'number') throw new Error(`cold start reported no ${key}: ${output}`);
    return value;
  };
  return {
    firstResultMs: number('firstResultMs'),
    importsMs: number('importsMs'),
    openMs: number('openMs'),
    migrateMs: number('migrateMs'),
    firstSearchMs: number('firstSearchMs'),
    results: number('results'),
  };
}

/** The first `count` rows of a corpus, as a corpus of their own. */
function head(source: Corpus, count: number): Corpus {
  const { dimensions } = source.vectors;
  return corpus(
    `${source.label}-head`,
    {
      dimensions,
      count,
      values: source.vectors.values.slice(0, count * dimensions),
      clusters: source.vectors.clusters.slice(0, count),
    },
    source.contents.slice(0, count),
    source.metadata.slice(0, count),
    source.externalIds.slice(0, count),
  );
}

/**
 * Embedded PGlite at a smaller size: ingest (bulk, API procedure, the guide's pattern), search
 * latency and filtered recall in-process, and a cold start to the first search result in a fresh
 * process.
 */
export async function benchPglite(
  source: Corpus,
  queries: readonly SearchQuery[],
  filters: readonly FilterCase[],
  options: { docs: number; guideIngestSeconds: number; requests: number; efValues: number[] },
): Promise<PgliteReport> {
  const data = head(source, Math.min(options.docs, source.vectors.count));
  const docs = data.vectors.count;
  const dimensions = data.vectors.dimensions;
  const dataDir = await mkdtemp(join(tmpdir(), 'quarry-bench-pglite-'));
  try {
    progress(`pglite: ${docs} docs in ${dataDir}`);
    let begin = performance.now();
    const database = await createDb({ driver: 'embedded', dataDir: join(dataDir, 'db') });
    await migrate(database);
    const createAndMigrateSeconds = round((performance.now() - begin) / 1000);
    const ingest: PgliteReport['ingest'] = [];
    const record = (
      method: PgliteReport['ingest'][number]['method'],
      count: number,
      milliseconds: number,
    ) => {
      const entry = {
        method,
        docs: count,
        seconds: round(milliseconds / 1000),
        docsPerSecond: round((count / milliseconds) * 1000, 0),
      };
      progress(`  ${method}: ${count} docs, ${entry.docsPerSecond} docs/s`);
      ingest.push(entry);
    };

    const collection = await createBenchCollection(database, 'bench', dimensions, {
      withIndex: false,
    });
    const items = ingestItems(data, 0, docs);
    begin = performance.now();
    await quarryBulkIngest(database, collection, items);
    record('quarry-bulk', docs, performance.now() - begin);
    begin = performance.now();
    await ensureVectorIndex(database, collection);
    const indexBuildSeconds = round((performance.now() - begin) / 1000);
    await database.db.execute(sql`analyze documents`);

    const caller = quarryCaller(database);
    await createBenchCollection(database, 'bench-api', dimensions, { withIndex: false });
    let milliseconds = 0;
    for (let start = 0; start < docs; start += 1_000) {
      const batch = items.slice(start, start + 1_000);
      begin = performance.now();
      await caller.documents.ingest({ collection: 'bench-api', documents: batch });
      milliseconds += performance.now() - begin;
    }
    record('quarry-api', docs, milliseconds);
    // Loaded without its index: left so, the next start would build it (migrate ensures every index).
    await caller.collections.delete({ name: 'bench-api', confirm: 'bench-api' });

    const guideClient = await PGlite.create({ extensions: { vector } });
    const writer = guideWriterOnPglite(guideClient);
    await writer.exec(GUIDE_SCHEMA_SQL);
    begin = performance.now();
    let written = 0;
    while (written < docs && performance.now() - begin < options.guideIngestSeconds * 1000) {
      await writer.insert({
        content: data.contents[written] ?? '',
        metadata: data.metadata[written] ?? {},
        embedding: Array.from(vectorOf(data, written)),
      });
      written++;
    }
    record('guide-a', written, performance.now() - begin);
    await writer.close();

    const latencyByMode = {
      vector: { p50: 0, p95: 0 },
      keyword: { p50: 0, p95: 0 },
      hybrid: { p50: 0, p95: 0 },
    };
    for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
      const latencies: number[] = [];
      for (let i = -1; i < options.requests; i++) {
        const query = queries[Math.max(0, i) % queries.length]!;
        const start = performance.now();
        await caller.search.query({
          collection: 'bench',
          mode,
          k: 10,
          ...(mode === 'keyword' ? {} : { vector: query.vector }),
          ...(mode === 'vector' ? {} : { text: query.text }),
        });
        if (i >= 0) latencies.push(performance.now() - start);
      }
      const summary = summarize(latencies);
      latencyByMode[mode] = { p50: round(summary.p50), p95: round(summary.p95) };
    }
    progress(
      `  search p50: vector ${latencyByMode.vector.p50} ms, keyword ${latencyByMode.keyword.p50} ms, hybrid ${latencyByMode.hybrid.p50} ms`,
    );

    // The guide's baseline queries the same embedded database through PGlite itself, as its code
    // would; drizzle keeps the driver client as $client, which the driver-neutral type leaves out.
    const client = (database.db as unknown as { $client: PGlite }).$client;
    const recall = await benchRecall(
      'pglite',
      data,
      rowsByExternalId(data),
      queries.map((query) => Float32Array.from(query.vector)),
      filters,
      { quarry: quarrySearch(database, 'bench'), guide: guideSearchOnPglite(client, collection) },
      options.efValues.slice(0, 1),
    );
    await database.close();

    const queryFile = join(dataDir, 'query.json');
    await writeFile(queryFile, JSON.stringify(queries[0]?.vector ?? []));
    progress('  cold start: a fresh process opens the data directory and searches');
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      tsxLoader,
      coldStartScript,
      join(dataDir, 'db'),
      queryFile,
    ]);
    const coldStart = parseColdStart(stdout);
    progress(`  first result ${round(coldStart.firstResultMs)} ms after process start`);
    return {
      docs,
      createAndMigrateSeconds,
      ingest,
      indexBuildSeconds,
      latencyByMode,
      recall,
      coldStart: {
        firstResultMs: round(coldStart.firstResultMs, 0),
        importsMs: round(coldStart.importsMs, 0),
        openMs: round(coldStart.openMs, 0),
        migrateMs: round(coldStart.migrateMs, 0),
        firstSearchMs: round(coldStart.firstSearchMs, 0),
        results: coldStart.results,
      },
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
