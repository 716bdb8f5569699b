import { ensureVectorIndex, sql, type Collection, type Database } from '@quarry/db';
import { startApiServer } from './api-client';
import { vectorOf, ingestItems, type Corpus } from './corpus';
import {
  GUIDE_INDEX_SQL,
  GUIDE_SCHEMA_SQL,
  guideWriterOnPostgres,
  type GuideWriter,
} from './guide';
import { progress } from './log';
import { rawBinaryCopy } from './raw-copy';
import { quarryDatabase, type ScratchServer } from './scratch';
import { round } from './stats';
import { createBenchCollection, quarryBulkIngest } from './systems';

export type IngestMethod = 'quarry-bulk' | 'quarry-api' | 'guide-a' | 'raw-copy-b';
export type IngestMode = 'index-after-load' | 'index-present';

export interface IngestMeasurement {
  method: IngestMethod;
  mode: IngestMode;
  docs: number;
  seconds: number;
  docsPerSecond: number;
}

export interface IngestReport {
  measurements: IngestMeasurement[];
  /** Building the collection's HNSW index after the bulk load (Quarry's ensureVectorIndex). */
  indexBuildSeconds: number;
  /** The database kept for the search benchmarks, with the bulk-loaded collection indexed. */
  search: { database: Database; url: string; collection: Collection };
}

const API_BATCH = 1_000;

function measurement(
  method: IngestMethod,
  mode: IngestMode,
  docs: number,
  milliseconds: number,
): IngestMeasurement {
  const seconds = milliseconds / 1000;
  const result = {
    method,
    mode,
    docs,
    seconds: round(seconds, 2),
    docsPerSecond: round(docs / seconds, 0),
  };
  progress(
    `  ${method} (${mode}): ${docs} docs in ${result.seconds}s = ${result.docsPerSecond} docs/s`,
  );
  return result;
}

/** Quarry's bulk path, one call per chunk; only the calls are timed (building the items is the caller's). */
async function bulkLoad(
  database: Database,
  collection: Collection,
  corpus: Corpus,
  docs: number,
  chunk: number,
): Promise<number> {
  let milliseconds = 0;
  for (let start = 0; start < docs; start += chunk) {
    const items = ingestItems(corpus, start, Math.min(docs, start + chunk));
    const begin = performance.now();
    await quarryBulkIngest(database, collection, items);
    milliseconds += performance.now() - begin;
    progress(`    bulk ${Math.min(docs, start + chunk)}/${docs}`);
  }
  return milliseconds;
}

function rawRows(corpus: Corpus, docs: number) {
  return (function* () {
    for (let row = 0; row < docs; row++) {
      yield {
        content: corpus.contents[row] ?? '',
        metadataJson: JSON.stringify(corpus.metadata[row] ?? {}),
        externalId: corpus.externalIds[row] ?? '',
        embedding: vectorOf(corpus, row),
      };
    }
  })();
}

/** The guide's one INSERT per document, until `docs` or the time cap, whichever comes first. */
async function guideLoad(
  writer: GuideWriter,
  corpus: Corpus,
  docs: number,
  capSeconds: number,
): Promise<{ docs: number; milliseconds: number }> {
  const begin = performance.now();
  let written = 0;
  while (written < docs && performance.now() - begin < capSeconds * 1000) {
    await writer.insert({
      content: corpus.contents[written] ?? '',
      metadata: corpus.metadata[written] ?? {},
      embedding: Array.from(vectorOf(corpus, written)),
    });
    written++;
  }
  return { docs: written, milliseconds: performance.now() - begin };
}

export interface IngestOptions {
  /** false: only the Quarry bulk load the search benchmarks need, no baselines. */
  compare: boolean;
  docs: number;
  apiIngestDocs: number;
  indexedIngestDocs: number;
  guideIngestSeconds: number;
  bulkChunk: number;
}

/**
 * Every method loads the same rows into a fresh database, once into a collection without its HNSW
 * index (built afterwards, timed apart) and once into a collection whose index already exists.
 * A checkpoint before each load keeps one method's dirty pages off the next one's clock.
 */
export async function benchIngest(
  server: ScratchServer,
  corpus: Corpus,
  options: IngestOptions,
): Promise<IngestReport> {
  const measurements: IngestMeasurement[] = [];
  const dimensions = corpus.vectors.dimensions;
  const checkpoint = () => server.admin`checkpoint`;

  progress(`ingest: Quarry bulk path, ${options.docs} docs, index built after the load`);
  const quarryScratch = await server.create('quarry');
  const database = await quarryDatabase(quarryScratch);
  const collection = await createBenchCollection(database, 'bench', dimensions, {
    withIndex: false,
  });
  await checkpoint();
  measurements.push(
    measurement(
      'quarry-bulk',
      'index-after-load',
      options.docs,
      await bulkLoad(database, collection, corpus, options.docs, options.bulkChunk),
    ),
  );
  progress('  building the HNSW index (ensureVectorIndex)');
  let begin = performance.now();
  await ensureVectorIndex(database, collection);
  const indexBuildSeconds = round((performance.now() - begin) / 1000, 2);
  progress(`  index built in ${indexBuildSeconds}s`);
  await database.db.execute(sql`vacuum analyze documents`);

  if (!options.compare)
    return {
      measurements,
      indexBuildSeconds,
      search: { database, url: quarryScratch.url, collection },
    };

  progress(`ingest: Quarry bulk path, ${options.indexedIngestDocs} docs, index present`);
  const indexedCollection = await createBenchCollection(database, 'bench-indexed', dimensions, {
    withIndex: true,
  });
  await checkpoint();
  measurements.push(
    measurement(
      'quarry-bulk',
      'index-present',
      options.indexedIngestDocs,
      await bulkLoad(
        database,
        indexedCollection,
        corpus,
        options.indexedIngestDocs,
        options.bulkChunk,
      ),
    ),
  );

  progress(`ingest: raw binary COPY (baseline B), ${options.docs} docs`);
  const rawScratch = await server.create('raw');
  const rawDatabase = await quarryDatabase(rawScratch);
  try {
    const rawCollection = await createBenchCollection(rawDatabase, 'bench', dimensions, {
      withIndex: false,
    });
    await checkpoint();
    measurements.push(
      measurement(
        'raw-copy-b',
        'index-after-load',
        options.docs,
        await rawBinaryCopy(
          rawScratch.url,
          rawCollection.id,
          'default',
          rawRows(corpus, options.docs),
        ),
      ),
    );
    const rawIndexed = await createBenchCollection(rawDatabase, 'bench-indexed', dimensions, {
      withIndex: true,
    });
    await checkpoint();
    measurements.push(
      measurement(
        'raw-copy-b',
        'index-present',
        options.indexedIngestDocs,
        await rawBinaryCopy(
          rawScratch.url,
          rawIndexed.id,
          'default',
          rawRows(corpus, options.indexedIngestDocs),
        ),
      ),
    );
  } finally {
    await rawDatabase.close();
    await rawScratch.drop();
  }

  progress(
    `ingest: Quarry API path over HTTP (documents.ingest, ${API_BATCH} per call), ${options.apiIngestDocs} docs`,
  );
  const apiScratch = await server.create('api');
  const apiDatabase = await quarryDatabase(apiScratch);
  const api = await startApiServer(apiScratch.url);
  try {
    for (const [mode, name, docs] of [
      ['index-after-load', 'bench', options.apiIngestDocs],
      ['index-present', 'bench-indexed', options.indexedIngestDocs],
    ] as const) {
      await createBenchCollection(apiDatabase, name, dimensions, {
        withIndex: mode === 'index-present',
      });
      await checkpoint();
      let milliseconds = 0;
      for (let start = 0; start < docs; start += API_BATCH) {
        const documents = ingestItems(corpus, start, Math.min(docs, start + API_BATCH));
        begin = performance.now();
        await api.client.documents.ingest.mutate({ collection: name, documents });
        milliseconds += performance.now() - begin;
      }
      measurements.push(measurement('quarry-api', mode, docs, milliseconds));
    }
  } finally {
    await api.stop();
    await apiDatabase.close();
    await apiScratch.drop();
  }

  progress(
    `ingest: the guide's pattern (baseline A), one INSERT per document, at most ${options.guideIngestSeconds}s per mode`,
  );
  const guideScratch = await server.create('guide');
  const writer = guideWriterOnPostgres(guideScratch.url);
  try {
    await writer.exec(GUIDE_SCHEMA_SQL);
    await checkpoint();
    const plain = await guideLoad(writer, corpus, options.docs, options.guideIngestSeconds);
    measurements.push(measurement('guide-a', 'index-after-load', plain.docs, plain.milliseconds));
    await writer.exec('TRUNCATE documents');
    await writer.exec(GUIDE_INDEX_SQL);
    await checkpoint();
    const indexed = await guideLoad(
      writer,
      corpus,
      options.indexedIngestDocs,
      options.guideIngestSeconds,
    );
    measurements.push(measurement('guide-a', 'index-present', indexed.docs, indexed.milliseconds));
  } finally {
    await writer.close();
    await guideScratch.drop();
  }

  return {
    measurements,
    indexBuildSeconds,
    search: { database, url: quarryScratch.url, collection },
  };
}
