/**
 * Worst-query recall of HNSW indexes built different ways on the same data (issue 12: one query
 * found 0 of its 10 neighbours on Quarry's index at ef_search 40, 100 and 200 while a plain
 * pgvector table's index kept every query at ≥ 0.7). Builds, one at a time on one scratch
 * database, each index a query could use, and measures recall@10 of every query against the exact
 * neighbours at each ef_search:
 * - `quarry`: Quarry's own index (ensureVectorIndex: the partial expression index
 *   `(embedding::vector(D)) WHERE collection_id = …`, CREATE INDEX CONCURRENTLY), rebuilt `--builds` times;
 * - `quarry-plain-build`: the same statement without CONCURRENTLY;
 * - `plain`: a table `(id, embedding vector(D))` with `CREATE INDEX … USING hnsw (embedding …)`, rebuilt `--builds` times;
 * - `plain-concurrent`: the same index built CONCURRENTLY.
 *
 *   npx tsx src/index-build-recall.ts --docs 20000 --queries 100 --builds 3 --out /tmp/quarry/bench-plan
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import {
  createVectorIndexStatement,
  dropVectorIndexes,
  ensureVectorIndex,
  type Collection,
} from '@quarry/db';
import { corpus } from './corpus';
import { cosineDistances, exactTopK, recallAtK } from './exact';
import { progress } from './log';
import { encodeCopyData, rawBinaryCopy } from './raw-copy';
import { quarryDatabase, scratchServer } from './scratch';
import { gaussianMixture, row, SYNTHETIC_SHAPE } from './synthetic';
import { createBenchCollection } from './systems';

const K = 10;

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '20000' },
    queries: { type: 'string', default: '100' },
    builds: { type: 'string', default: '3' },
    'ef-search': { type: 'string', default: '40,100,200' },
    seed: { type: 'string', default: '6' },
    'database-url': {
      type: 'string',
      default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
    out: { type: 'string', default: '/tmp/quarry/bench-index-build' },
  },
});
const docs = Number(values.docs);
const queryCount = Number(values.queries);
const builds = Number(values.builds);
const efValues = values['ef-search'].split(',').map(Number);
const seed = Number(values.seed);
const { dimensions } = SYNTHETIC_SHAPE;

interface Measurement {
  variant: string;
  build: number;
  buildSeconds: number;
  efSearch: number;
  meanRecall: number;
  minRecall: number;
  /** Queries that found none of their 10 neighbours. */
  zeroQueries: number[];
  /** Queries below 0.5. */
  below05: number;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** COPY of `(id, embedding)` rows into the plain table. */
function* plainCopyData(vectors: ReturnType<ReturnType<typeof gaussianMixture>['sample']>) {
  yield Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  for (let n = 0; n < vectors.count; n++) {
    const buffer = Buffer.allocUnsafe(2 + 8 + 8 + 4 * dimensions);
    let offset = buffer.writeInt16BE(2, 0);
    offset = buffer.writeInt32BE(4, offset);
    offset = buffer.writeInt32BE(n, offset);
    offset = buffer.writeInt32BE(4 + 4 * dimensions, offset);
    offset = buffer.writeInt16BE(dimensions, offset);
    offset = buffer.writeInt16BE(0, offset);
    const vector = row(vectors, n);
    for (let i = 0; i < dimensions; i++) offset = buffer.writeFloatBE(vector[i] ?? 0, offset);
    yield buffer;
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  yield trailer;
}

async function main(): Promise<void> {
  const server = scratchServer(values['database-url']);
  try {
    progress(`data: ${docs} x ${dimensions} synthetic (seed ${seed}), ${queryCount} queries`);
    const mixture = gaussianMixture({ ...SYNTHETIC_SHAPE, seed });
    const vectors = mixture.sample(docs, seed + 1);
    // The main bench's latency/recall queries: seed + 100.
    const queries = mixture.sample(queryCount, seed + 100);
    const data = corpus(
      'synthetic',
      vectors,
      Array.from({ length: docs }, () => ''),
      Array.from({ length: docs }, () => ({})),
      Array.from({ length: docs }, (_, n) => `syn-${n}`),
    );
    const distances = Array.from({ length: queryCount }, (_, q) =>
      cosineDistances(data.vectors, data.norms, row(queries, q)),
    );
    const exact = distances.map((d) => exactTopK(d, K));
    const queryTexts = Array.from(
      { length: queryCount },
      (_, q) => `[${Array.from(row(queries, q)).join(',')}]`,
    );

    const scratch = await server.create('index_build');
    const database = await quarryDatabase(scratch);
    const client = postgres(scratch.url, { max: 1, onnotice: () => {} });
    const measurements: Measurement[] = [];
    try {
      const collection: Collection = await createBenchCollection(database, 'build', dimensions, {
        withIndex: false,
      });
      progress('loading Quarry documents (binary COPY) and the plain table');
      await rawBinaryCopy(
        scratch.url,
        encodeCopyData(
          collection.id,
          'default',
          Array.from({ length: docs }, (_, n) => ({
            content: '',
            metadataJson: '{}',
            externalId: String(n),
            embedding: row(vectors, n),
          })),
        ),
      );
      await client.unsafe(
        `create table plain (id int primary key, embedding vector(${dimensions}))`,
      );
      await client.begin(async (tx) => {
        const stream = await tx
          .unsafe('copy plain (id, embedding) from stdin (format binary)')
          .writable();
        await pipeline(Readable.from(plainCopyData(vectors)), stream);
      });
      await client.unsafe('vacuum analyze documents');
      await client.unsafe('vacuum analyze plain');

      const quarryQuery = `select external_id::int as id from documents where collection_id = ${collection.id}
        order by (embedding::vector(${dimensions})) <=> $1::vector(${dimensions}) limit ${K}`;
      const plainQuery = `select id from plain order by embedding <=> $1::vector(${dimensions}) limit ${K}`;

      const measure = async (
        variant: string,
        build: number,
        buildSeconds: number,
        text: string,
      ) => {
        for (const ef of efValues) {
          const recalls: number[] = [];
          for (let q = 0; q < queryCount; q++) {
            const ids = await client.begin(async (tx) => {
              await tx.unsafe(
                `select set_config('hnsw.ef_search', $1, true), set_config('enable_seqscan', 'off', true)`,
                [String(ef)],
              );
              return tx.unsafe<Array<{ id: number }>>(text, [queryTexts[q]!]);
            });
            recalls.push(
              recallAtK(
                distances[q]!,
                exact[q]!,
                ids.map(({ id }) => id),
                K,
              ),
            );
          }
          const point: Measurement = {
            variant,
            build,
            buildSeconds,
            efSearch: ef,
            meanRecall: Math.round(mean(recalls) * 1000) / 1000,
            minRecall: Math.min(...recalls),
            zeroQueries: recalls.flatMap((r, q) => (r === 0 ? [q] : [])),
            below05: recalls.filter((r) => r < 0.5).length,
          };
          progress(
            `  ${variant} #${build} ef ${ef}: mean ${point.meanRecall}, min ${point.minRecall}, <0.5: ${point.below05}, recall 0: [${point.zeroQueries.join(',')}]`,
          );
          measurements.push(point);
        }
      };
      const timed = async (build: () => Promise<unknown>) => {
        const begin = performance.now();
        await build();
        return Math.round((performance.now() - begin) / 100) / 10;
      };

      for (let build = 1; build <= builds; build++) {
        progress(`quarry index (ensureVectorIndex, concurrently), build ${build}`);
        await dropVectorIndexes(database, collection.id);
        const seconds = await timed(() => ensureVectorIndex(database, collection));
        await measure('quarry', build, seconds, quarryQuery);
      }
      await dropVectorIndexes(database, collection.id);
      progress('quarry index statement without CONCURRENTLY');
      const plainBuild = await timed(() =>
        database.db.execute(createVectorIndexStatement(collection, { concurrently: false })),
      );
      await measure('quarry-plain-build', 1, plainBuild, quarryQuery);
      await dropVectorIndexes(database, collection.id);

      for (let build = 1; build <= builds; build++) {
        progress(`plain table index, build ${build}`);
        await client.unsafe('drop index if exists plain_hnsw');
        const seconds = await timed(() =>
          client.unsafe(
            'create index plain_hnsw on plain using hnsw (embedding vector_cosine_ops) with (m = 16, ef_construction = 64)',
          ),
        );
        await measure('plain', build, seconds, plainQuery);
      }
      await client.unsafe('drop index if exists plain_hnsw');
      progress('plain table index, CONCURRENTLY');
      const concurrent = await timed(() =>
        client.unsafe(
          'create index concurrently plain_hnsw on plain using hnsw (embedding vector_cosine_ops) with (m = 16, ef_construction = 64)',
        ),
      );
      await measure('plain-concurrent', 1, concurrent, plainQuery);
    } finally {
      await client.end({ timeout: 5 });
      await database.close();
    }
    await mkdir(values.out, { recursive: true });
    await writeFile(
      join(values.out, 'index-build-recall.json'),
      `${JSON.stringify({ docs, dimensions, queries: queryCount, seed, measurements }, null, 2)}\n`,
    );
    const lines = [
      'variant | build | build s | ef_search | mean recall@10 | min | queries < 0.5 | recall 0',
    ];
    for (const m of measurements)
      lines.push(
        `${m.variant} | ${m.build} | ${m.buildSeconds} | ${m.efSearch} | ${m.meanRecall} | ${m.minRecall} | ${m.below05} | ${m.zeroQueries.join(' ')}`,
      );
    await writeFile(join(values.out, 'index-build-recall.md'), `${lines.join('\n')}\n`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await server.dropAll();
  }
}

await main();
