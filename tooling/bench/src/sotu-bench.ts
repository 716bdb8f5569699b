import postgres from 'postgres';
import { createOfflineEmbeddingProvider, OFFLINE_MODEL } from '@quarry/api/embeddings';
import { loadSotuParagraphs } from '@quarry/corpus';
import { collections, dropVectorIndexes, ensureVectorIndex, eq, sql } from '@quarry/db';
import { corpus, rowsByExternalId } from './corpus';
import { progress } from './log';
import { benchRecall, type FilterCase, type RecallPoint } from './recall-bench';
import { quarryDatabase, type ScratchServer } from './scratch';
import { round, summarize } from './stats';
import { seededRandom } from './synthetic';
import { guideSearchOnPostgres, quarryBulkIngest, quarryCaller, quarrySearch } from './systems';

export interface SotuReport {
  passages: number;
  queries: number;
  embedding: { docs: number; seconds: number; docsPerSecond: number };
  bulkIngest: { docs: number; seconds: number; docsPerSecond: number };
  indexBuildSeconds: number;
  recall: RecallPoint[];
  /** Text queries through the in-process caller: Quarry embeds the text itself. */
  latencyByMode: Record<'vector' | 'keyword' | 'hybrid', { p50: number; p95: number }>;
}

/** Every 40th passage is held out: queries from the corpus's distribution that are not in it. */
const HOLD_OUT_EVERY = 40;

/** Two of the passage's longest words: a short keyword query a person might type. */
function keywordsOf(text: string): string {
  const words = [...new Set(text.toLowerCase().match(/[a-z]{4,}/g) ?? [])];
  return words
    .sort((a, b) => b.length - a.length || a.localeCompare(b))
    .slice(0, 2)
    .join(' ');
}

export async function benchSotu(
  server: ScratchServer,
  options: { docs: number; queries: number; efValues: number[]; seed: number },
): Promise<SotuReport> {
  const all = loadSotuParagraphs(options.docs > 0 ? { limit: options.docs } : {});
  const data = all.filter((_, index) => index % HOLD_OUT_EVERY !== HOLD_OUT_EVERY - 1);
  const heldOut = all.filter((_, index) => index % HOLD_OUT_EVERY === HOLD_OUT_EVERY - 1);
  const queryPassages = Array.from(
    { length: Math.min(options.queries, heldOut.length) },
    (_, i) =>
      heldOut[Math.floor((i * heldOut.length) / Math.min(options.queries, heldOut.length))]!,
  );
  progress(
    `sotu: ${data.length} passages, ${queryPassages.length} held-out queries; embedding with ${OFFLINE_MODEL}`,
  );

  const provider = createOfflineEmbeddingProvider();
  await provider.warmUp();
  let begin = performance.now();
  const vectors = await provider.embed(data.map((passage) => passage.content));
  const embedSeconds = (performance.now() - begin) / 1000;
  const queryVectors = (await provider.embed(queryPassages.map((passage) => passage.content))).map(
    (vector) => Float32Array.from(vector),
  );

  const values = new Float32Array(data.length * provider.dimensions);
  vectors.forEach((vector, row) => values.set(vector, row * provider.dimensions));
  const sotu = corpus(
    'sotu',
    {
      dimensions: provider.dimensions,
      count: data.length,
      values,
      clusters: new Uint16Array(data.length),
    },
    data.map((passage) => passage.content),
    data.map((passage) => passage.metadata),
    data.map((passage) => passage.externalId),
  );

  const scratch = await server.create('sotu');
  const database = await quarryDatabase(scratch);
  const guideClient = postgres(scratch.url, { prepare: false, onnotice: () => {} });
  try {
    const caller = quarryCaller(database, [provider]);
    await caller.collections.create({
      name: 'sotu',
      dimensions: provider.dimensions,
      embeddingModel: OFFLINE_MODEL,
    });
    const [collection] = await database.db
      .select()
      .from(collections)
      .where(eq(collections.name, 'sotu'));
    if (!collection) throw new Error('sotu collection missing');
    await dropVectorIndexes(database, collection.id);
    const items = data.map((passage, row) => ({
      content: passage.content,
      metadata: passage.metadata,
      externalId: passage.externalId,
      embedding: vectors[row] ?? [],
    }));
    begin = performance.now();
    await quarryBulkIngest(database, collection, items);
    const ingestSeconds = (performance.now() - begin) / 1000;
    progress(`  bulk ingest ${data.length} passages in ${round(ingestSeconds)}s`);
    begin = performance.now();
    await ensureVectorIndex(database, collection);
    const indexBuildSeconds = round((performance.now() - begin) / 1000, 2);
    await database.db.execute(sql`vacuum analyze documents`);

    const random = seededRandom(options.seed + 17);
    const pick = () => Math.floor(random() * data.length);
    // Filter values drawn from the data rows, so larger presidencies and decades come up more often.
    const presidents = queryPassages.map(() => data[pick()]!.metadata.president);
    const decades = queryPassages.map(() => data[pick()]!.metadata.decade);
    const filters: FilterCase[] = [
      { name: 'none', forQuery: () => undefined },
      {
        name: 'president',
        forQuery: (query) => {
          const president = presidents[query] ?? '';
          return {
            quarry: { key: 'president', op: 'eq', value: president },
            guide: { key: 'president', value: president },
            passes: (row) => data[row]?.metadata.president === president,
          };
        },
      },
      {
        name: 'decade',
        forQuery: (query) => {
          const decade = decades[query] ?? 0;
          return {
            quarry: { key: 'decade', op: 'eq', value: decade },
            guide: { key: 'decade', value: String(decade) },
            passes: (row) => data[row]?.metadata.decade === decade,
          };
        },
      },
    ];
    const recall = await benchRecall(
      'sotu',
      sotu,
      rowsByExternalId(sotu),
      queryVectors,
      filters,
      {
        quarry: quarrySearch(database, 'sotu'),
        guide: guideSearchOnPostgres(guideClient, collection),
      },
      options.efValues.slice(0, 1),
    );

    const latencyByMode = {
      vector: { p50: 0, p95: 0 },
      keyword: { p50: 0, p95: 0 },
      hybrid: { p50: 0, p95: 0 },
    };
    for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
      const latencies: number[] = [];
      for (const [index, passage] of [queryPassages[0]!, ...queryPassages].entries()) {
        const start = performance.now();
        await caller.search.query({
          collection: 'sotu',
          mode,
          text: keywordsOf(passage.content),
          k: 10,
        });
        if (index > 0) latencies.push(performance.now() - start); // the first is a warm-up
      }
      const summary = summarize(latencies);
      latencyByMode[mode] = { p50: round(summary.p50), p95: round(summary.p95) };
    }
    progress(
      `  text queries p50: vector ${latencyByMode.vector.p50} ms, keyword ${latencyByMode.keyword.p50} ms, hybrid ${latencyByMode.hybrid.p50} ms`,
    );
    return {
      passages: data.length,
      queries: queryPassages.length,
      embedding: {
        docs: data.length,
        seconds: round(embedSeconds),
        docsPerSecond: round(data.length / embedSeconds, 0),
      },
      bulkIngest: {
        docs: data.length,
        seconds: round(ingestSeconds),
        docsPerSecond: round(data.length / ingestSeconds, 0),
      },
      indexBuildSeconds,
      recall,
      latencyByMode,
    };
  } finally {
    await guideClient.end({ timeout: 5 });
    await database.close();
    await scratch.drop();
  }
}
