import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultOutDir, parseConfig, readmePath, type BenchConfig } from './config';
import { corpus, type Corpus } from './corpus';
import { benchCitusIfReachable } from './citus-bench';
import { benchIngest } from './ingest-bench';
import { elapsedSeconds, progress } from './log';
import { finishMachineInfo, machineInfo } from './machine';
import { benchPglite } from './pglite-bench';
import { benchRecall, pgvectorModeSearches, type FilterCase } from './recall-bench';
import {
  evaluateTargets,
  renderMarkdown,
  renderReadmeSection,
  replaceReadmeSection,
  type BenchResult,
} from './report';
import { recallLatencyChart } from './chart';
import { scratchServer } from './scratch';
import { benchLatency, type SearchQuery } from './search-bench';
import { benchQuality } from './quality-bench';
import { benchSotu } from './sotu-bench';
import {
  gaussianMixture,
  selectivities,
  SYNTHETIC_SHAPE,
  syntheticMetadata,
  syntheticTexts,
} from './synthetic';
import { guideSearchOnPostgres, quarrySearch } from './systems';
import postgres from 'postgres';

const LATENCY_QUERIES = 100;

function syntheticData(config: BenchConfig): {
  data: Corpus;
  queries: SearchQuery[];
  filters: FilterCase[];
} {
  const mixture = gaussianMixture({ ...SYNTHETIC_SHAPE, seed: config.seed });
  const vectors = mixture.sample(config.docs, config.seed + 1);
  const metadata = syntheticMetadata(config.docs, vectors.clusters, config.seed + 2);
  const texts = syntheticTexts(mixture.clusters, config.seed + 3);
  const data = corpus(
    'synthetic',
    vectors,
    Array.from({ length: config.docs }, (_, row) =>
      texts.document(row, vectors.clusters[row] ?? 0),
    ),
    metadata,
    Array.from({ length: config.docs }, (_, row) => `syn-${row}`),
  );
  // Fresh draws from the same mixture: like the data, never in it.
  const sampled = mixture.sample(LATENCY_QUERIES, config.seed + 100);
  const queries = Array.from({ length: LATENCY_QUERIES }, (_, i) => ({
    vector: Array.from(
      sampled.values.subarray(i * sampled.dimensions, (i + 1) * sampled.dimensions),
    ),
    text: texts.query(i, sampled.clusters[i] ?? 0),
  }));
  const filters: FilterCase[] = [
    { name: 'none', forQuery: () => undefined },
    ...[...selectivities].reverse().map(({ name, key }) => ({
      name,
      forQuery: () => ({
        quarry: { key, op: 'eq' as const, value: true },
        guide: { key, value: 'true' },
        passes: (row: number) => metadata[row]?.[key] === true,
      }),
    })),
  ];
  return { data, queries, filters };
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2), process.env);
  const startedAt = new Date();
  const server = scratchServer(config.databaseUrl);
  const interrupted = () => {
    progress('interrupted: dropping scratch databases');
    void server.dropAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const machine = await machineInfo(server.admin);
    progress(
      `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, load ${machine.loadAverageStart}; ${machine.postgres}, pgvector ${machine.pgvector}`,
    );
    const result: BenchResult = {
      startedAt: startedAt.toISOString(),
      finishedAt: '',
      durationSeconds: 0,
      command: `pnpm bench${config.argv.length > 0 ? ` -- ${config.argv.join(' ')}` : ''}`,
      config: {
        docs: config.docs,
        indexedIngestDocs: config.indexedIngestDocs,
        ingestRuns: config.ingestRuns,
        guideIngestSeconds: config.guideIngestSeconds,
        queries: config.queries,
        latencyRequests: config.latencyRequests,
        pgliteDocs: config.pgliteDocs,
        sotuDocs: config.sotuDocs,
        efSearch: config.efSearch,
        skipped: [...config.skip],
        seed: config.seed,
      },
      machine,
      synthetic: {
        ...SYNTHETIC_SHAPE,
        docs: config.docs,
        queries: config.queries,
        selectivities: selectivities.map(({ name, key }) => ({ name, key })),
      },
      targets: [],
    };

    const needsSynthetic = (['ingest', 'latency', 'recall', 'citus', 'pglite'] as const).some(
      (part) => !config.skip.has(part),
    );
    if (needsSynthetic)
      progress(
        `data: ${config.docs} synthetic documents of ${SYNTHETIC_SHAPE.dimensions} dimensions`,
      );
    const synthetic = needsSynthetic ? syntheticData(config) : undefined;

    if (
      synthetic &&
      (!config.skip.has('ingest') || !config.skip.has('latency') || !config.skip.has('recall'))
    ) {
      const ingest = await benchIngest(server, synthetic.data, {
        ...config,
        compare: !config.skip.has('ingest'),
      });
      result.ingest = {
        docs: config.docs,
        runs: ingest.runs,
        measurements: ingest.measurements,
        indexBuildSeconds: ingest.indexBuildSeconds,
      };
      const { database, url, collection } = ingest.search;
      try {
        if (!config.skip.has('latency')) {
          progress(
            `latency: vector, keyword and hybrid search at concurrency 1 and 8, API over HTTP vs direct SQL`,
          );
          result.latency = await benchLatency(database, url, collection, synthetic.queries, {
            requests: config.latencyRequests,
          });
        }
        if (!config.skip.has('recall')) {
          const guideClient = postgres(url, { prepare: false, onnotice: () => {} });
          try {
            result.recall = await benchRecall(
              'synthetic',
              synthetic.data,
              new Map(synthetic.data.externalIds.map((id, row) => [id, row])),
              synthetic.queries
                .slice(0, config.queries)
                .map((query) => Float32Array.from(query.vector)),
              synthetic.filters,
              {
                quarry: quarrySearch(database, collection.name),
                guide: guideSearchOnPostgres(guideClient, collection),
                modes: pgvectorModeSearches(guideClient, collection),
              },
              config.efSearch,
            );
          } finally {
            await guideClient.end({ timeout: 5 });
          }
        }
      } finally {
        await database.close();
      }
    }
    if (!config.skip.has('sotu')) {
      result.sotu = await benchSotu(server, {
        docs: config.sotuDocs,
        queries: config.queries,
        efValues: config.efSearch,
        seed: config.seed,
      });
    }
    if (!config.skip.has('quality')) {
      progress('quality: known-item retrieval, MRR@10 and recall@10 of vector, keyword and hybrid');
      result.quality = await benchQuality(server);
    }
    if (synthetic && !config.skip.has('citus')) {
      result.citus = await benchCitusIfReachable(server, {
        citusUrl: config.citusUrl,
        data: synthetic.data,
        queryVectors: synthetic.queries
          .slice(0, config.queries)
          .map((query) => Float32Array.from(query.vector)),
        filters: synthetic.filters,
        docs: config.citusDocs,
      });
      if ('skipped' in result.citus) progress(`citus: skipped: ${result.citus.skipped}`);
    }
    if (synthetic && !config.skip.has('pglite')) {
      result.pglite = await benchPglite(
        synthetic.data,
        synthetic.queries.slice(0, config.queries),
        synthetic.filters,
        {
          docs: config.pgliteDocs,
          guideIngestSeconds: Math.min(config.guideIngestSeconds, 10),
          requests: Math.min(config.latencyRequests, 100),
          efValues: config.efSearch,
        },
      );
    }

    result.machine = finishMachineInfo(machine);
    result.finishedAt = new Date().toISOString();
    result.durationSeconds = Math.round(elapsedSeconds());
    result.targets = evaluateTargets(result);
    await mkdir(config.outDir, { recursive: true });
    await writeFile(join(config.outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (result.recall) {
      await writeFile(
        join(config.outDir, 'recall-latency.svg'),
        recallLatencyChart(
          result.recall,
          `Filtered recall@10 vs p50 latency, ${config.docs.toLocaleString('en')} synthetic documents × ${SYNTHETIC_SHAPE.dimensions} dimensions`,
        ),
      );
    }
    const markdown = renderMarkdown(result);
    await writeFile(join(config.outDir, 'latest.md'), markdown);
    process.stdout.write(markdown);
    // Only a run that writes the committed results refreshes the README's copy of them.
    if (config.outDir === defaultOutDir && !config.skip.size) {
      await writeFile(
        readmePath,
        replaceReadmeSection(await readFile(readmePath, 'utf8'), renderReadmeSection(result)),
      );
      progress('README.md: benchmark section refreshed');
    }
    progress(`done in ${result.durationSeconds}s; results in ${config.outDir}`);
  } finally {
    await server.dropAll();
  }
}

await main();
