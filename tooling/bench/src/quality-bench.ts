import type { createCaller } from '@quarry/api';
import {
  createOfflineEmbeddingProvider,
  OFFLINE_MODEL,
  type OfflineEmbeddingProvider,
} from '@quarry/api/embeddings';
import {
  evaluateKnownItems,
  knownItemDocuments,
  loadKnownItems,
  type KnownItemScores,
} from '@quarry/corpus';
import {
  collections,
  dropVectorIndexes,
  ensureVectorIndex,
  eq,
  sql,
  type Database,
} from '@quarry/db';
import { progress } from './log';
import type { Target } from './report';
import { quarryDatabase, type ScratchServer } from './scratch';
import { round } from './stats';
import { quarryCaller } from './systems';

export const KNOWN_ITEM_COLLECTION = 'known-items';
/** Documents per ingest call (the default maxBatchDocuments). */
const INGEST_BATCH = 1_000;

type Caller = ReturnType<typeof createCaller>;
type HybridOptions = NonNullable<Parameters<Caller['search']['query']>[0]['hybrid']>;

export interface QualityRow {
  /** vector, keyword, hybrid (default), or hybrid with the settings named. */
  name: string;
  mode: 'vector' | 'keyword' | 'hybrid';
  hybrid?: HybridOptions;
  scores: KnownItemScores;
}

export interface QualityReport {
  passages: number;
  queries: number;
  model: string;
  /** The three modes at their defaults first, then the hybrid settings tried for the default. */
  rows: QualityRow[];
}

/** Hybrid settings compared with the default (score 1:1, the row "hybrid"; see HYBRID_DEFAULTS). */
export const HYBRID_VARIANTS: Array<{ name: string; hybrid: HybridOptions }> = [
  { name: 'rrf k=60 1:1', hybrid: { fusion: 'rrf', rrfK: 60, vectorWeight: 1, keywordWeight: 1 } },
  { name: 'rrf k=60 1:2', hybrid: { fusion: 'rrf', rrfK: 60, vectorWeight: 1, keywordWeight: 2 } },
  { name: 'score 1:2', hybrid: { fusion: 'score', vectorWeight: 1, keywordWeight: 2 } },
  { name: 'score 2:1', hybrid: { fusion: 'score', vectorWeight: 2, keywordWeight: 1 } },
];

/**
 * Fills `database` with the known-item collection (the corpus, each relevant passage without its
 * query sentence), embedded with the demo's offline model, through `caller`.
 */
export async function loadKnownItemCollection(
  database: Database,
  provider: OfflineEmbeddingProvider,
  caller: Caller,
): Promise<void> {
  const documents = knownItemDocuments();
  await caller.collections.create({
    name: KNOWN_ITEM_COLLECTION,
    dimensions: provider.dimensions,
    embeddingModel: OFFLINE_MODEL,
  });
  const [collection] = await database.db
    .select()
    .from(collections)
    .where(eq(collections.name, KNOWN_ITEM_COLLECTION));
  if (!collection) throw new Error(`${KNOWN_ITEM_COLLECTION} collection missing`);
  progress(`quality: embedding ${documents.length} passages with ${OFFLINE_MODEL}`);
  const vectors = await provider.embed(documents.map((document) => document.content));
  // The index is built once over all rows: several times faster than growing it row by row.
  await dropVectorIndexes(database, collection.id);
  for (let start = 0; start < documents.length; start += INGEST_BATCH) {
    await caller.documents.ingest({
      collection: KNOWN_ITEM_COLLECTION,
      documents: documents.slice(start, start + INGEST_BATCH).map((document, offset) => ({
        content: document.content,
        metadata: document.metadata,
        externalId: document.externalId,
        embedding: vectors[start + offset] ?? [],
      })),
    });
  }
  await ensureVectorIndex(database, collection);
  await database.db.execute(sql`vacuum analyze documents`);
}

/** MRR@10 and recall@10 of one search setting over every known-item query. */
export async function knownItemScores(
  /** A caller per query: a caller's context is one request, whose response budget spans its calls. */
  callerFor: () => Caller,
  mode: QualityRow['mode'],
  hybrid?: HybridOptions,
): Promise<KnownItemScores> {
  const scores = await evaluateKnownItems(loadKnownItems().items, async (text) => {
    const response = await callerFor().search.query({
      collection: KNOWN_ITEM_COLLECTION,
      mode,
      text,
      k: 10,
      contentMaxChars: 0,
      ...(hybrid ? { hybrid } : {}),
    });
    return response.results.map((result) => result.externalId ?? '');
  });
  return { mrrAt10: round(scores.mrrAt10, 3), recallAt10: round(scores.recallAt10, 3) };
}

export async function benchQuality(server: ScratchServer): Promise<QualityReport> {
  const set = loadKnownItems();
  const scratch = await server.create('quality');
  const database = await quarryDatabase(scratch);
  try {
    const provider = createOfflineEmbeddingProvider();
    await provider.warmUp();
    const caller = quarryCaller(database, [provider]);
    await loadKnownItemCollection(database, provider, caller);
    const rows: QualityRow[] = [];
    const settings: Array<Omit<QualityRow, 'scores'>> = [
      { name: 'vector', mode: 'vector' },
      { name: 'keyword', mode: 'keyword' },
      { name: 'hybrid', mode: 'hybrid' },
      ...HYBRID_VARIANTS.map((variant) => ({ ...variant, mode: 'hybrid' as const })),
    ];
    for (const setting of settings) {
      const scores = await knownItemScores(
        () => quarryCaller(database, [provider]),
        setting.mode,
        setting.hybrid,
      );
      progress(
        `  ${setting.name}: MRR@10 ${scores.mrrAt10}, recall@10 ${scores.recallAt10} (${set.items.length} queries)`,
      );
      rows.push({ ...setting, scores });
    }
    return { passages: set.passages, queries: set.items.length, model: OFFLINE_MODEL, rows };
  } finally {
    await database.close();
    await scratch.drop();
  }
}

/** The default row of each mode. */
function defaults(report: QualityReport) {
  const named = (name: string) => report.rows.find((row) => row.name === name)?.scores;
  return { vector: named('vector'), keyword: named('keyword'), hybrid: named('hybrid') };
}

export function qualityTargets(report: QualityReport): Target[] {
  const { vector, keyword, hybrid } = defaults(report);
  if (!vector || !keyword || !hybrid) return [];
  const better = (metric: keyof KnownItemScores) => Math.max(vector[metric], keyword[metric]);
  return (['mrrAt10', 'recallAt10'] as const).map((metric) => ({
    target: `Known-item ${metric === 'mrrAt10' ? 'MRR@10' : 'recall@10'}: hybrid (defaults) ≥ the better of vector and keyword`,
    measured: `hybrid ${hybrid[metric]}, vector ${vector[metric]}, keyword ${keyword[metric]}`,
    met: hybrid[metric] >= better(metric),
  }));
}

export function renderQuality(report: QualityReport): string[] {
  return [
    '## 3c. Retrieval quality: known items in the State of the Union',
    '',
    `${report.queries} queries (packages/corpus/known-items/sotu.json), each one sentence of a passage, removed from the indexed copy of that passage; the collection holds all ${report.passages.toLocaleString('en')} passages, embedded with ${report.model}. k = 10, through the in-process caller.`,
    '',
    '| setting | MRR@10 | recall@10 |',
    '| --- | --- | --- |',
    ...report.rows.map(
      (row) =>
        `| ${row.name === 'hybrid' ? 'hybrid (defaults)' : row.name} | ${row.scores.mrrAt10} | ${row.scores.recallAt10} |`,
    ),
    '',
  ];
}
