import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export const benchParts = [
  'ingest',
  'latency',
  'recall',
  'sotu',
  'quality',
  'citus',
  'pglite',
] as const;
export type BenchPart = (typeof benchParts)[number];

export interface BenchConfig {
  /** Admin connection: scratch databases are created and dropped through it. */
  databaseUrl: string;
  /** A Citus coordinator with workers (tooling/scripts/start-citus.sh) for the Citus part. */
  citusUrl: string;
  /** Synthetic documents loaded into the Citus cluster and, beside it, into the single server. */
  citusDocs: number;
  /** Synthetic corpus size (documents of 1,536 dimensions). */
  docs: number;
  /** Documents each method loads into a collection that already holds `docs` with its HNSW index. */
  indexedIngestDocs: number;
  /** Times each ingest figure is measured (median and spread reported). */
  ingestRuns: number;
  /** Time cap for the guide's one-INSERT-per-document pattern (embedded PGlite part). */
  guideIngestSeconds: number;
  /** Queries for recall (each at every selectivity). */
  queries: number;
  /** Requests per latency run at concurrency 1 (concurrency 8 runs twice as many). */
  latencyRequests: number;
  /** Synthetic documents in the embedded PGlite part. */
  pgliteDocs: number;
  /** SOTU passages to load (0: all of them). */
  sotuDocs: number;
  /** hnsw.ef_search values swept for the recall/latency chart (the first is the default, 40). */
  efSearch: number[];
  skip: Set<BenchPart>;
  seed: number;
  outDir: string;
  /** The flags as given, for the report's "exact command". */
  argv: string[];
}

export const defaultOutDir = fileURLToPath(new URL('../../../bench/results', import.meta.url));
/** The repository's README, whose benchmark section a run into the default directory refreshes. */
export const readmePath = fileURLToPath(new URL('../../../README.md', import.meta.url));

const usage = `pnpm bench [-- flags]

  --docs N                 synthetic documents, 1,536 dimensions (default 50000)
  --indexed-ingest-docs N  documents per method into a collection already holding --docs with its index (default 10000)
  --ingest-runs N          runs of each ingest figure; the median and spread are reported (default 3)
  --guide-ingest-seconds S time cap for the guide's one-INSERT-per-document baseline on PGlite (default 20)
  --queries N              recall queries per selectivity (default 50)
  --latency-requests N     requests per latency run at concurrency 1; 8 runs twice as many (default 200)
  --pglite-docs N          synthetic documents in embedded PGlite (default 2000)
  --sotu-docs N            State of the Union passages (default 0 = all)
  --ef-search a,b,c        ef_search sweep for the chart (default 40,100,200)
  --skip parts             comma-separated: ${benchParts.join(', ')}
  --seed N                 data seed (default 6)
  --citus-url URL          a Citus coordinator (default $BENCH_CITUS_URL or postgres://postgres@127.0.0.1:9700/postgres,
                           where tooling/scripts/start-citus.sh runs one); the part is skipped, saying so, when none answers
  --citus-docs N           documents for the Citus part, loaded over HTTP into both systems (default 10000)
  --database-url URL       admin connection (default $BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --out DIR                results directory (default bench/results)
`;

function positiveInteger(
  name: string,
  value: string | undefined,
  fallback: number,
  allowZero = false,
): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < (allowZero ? 0 : 1))
    throw new Error(
      `--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got '${value}'\n\n${usage}`,
    );
  return parsed;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): BenchConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      docs: { type: 'string' },
      'indexed-ingest-docs': { type: 'string' },
      'ingest-runs': { type: 'string' },
      'guide-ingest-seconds': { type: 'string' },
      queries: { type: 'string' },
      'latency-requests': { type: 'string' },
      'pglite-docs': { type: 'string' },
      'sotu-docs': { type: 'string' },
      'ef-search': { type: 'string' },
      skip: { type: 'string' },
      seed: { type: 'string' },
      'database-url': { type: 'string' },
      'citus-url': { type: 'string' },
      'citus-docs': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const skip = new Set<BenchPart>();
  for (const part of (values.skip ?? '').split(',').filter(Boolean)) {
    const known = benchParts.find((candidate) => candidate === part);
    if (!known)
      throw new Error(`--skip: unknown part '${part}'; the parts are ${benchParts.join(', ')}`);
    skip.add(known);
  }
  const efSearch = (values['ef-search'] ?? '40,100,200')
    .split(',')
    .map((value) => positiveInteger('ef-search', value, 40));
  const docs = positiveInteger('docs', values.docs, 50_000);
  return {
    databaseUrl:
      values['database-url'] ??
      env.BENCH_DATABASE_URL ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    citusUrl:
      values['citus-url'] ?? env.BENCH_CITUS_URL ?? 'postgres://postgres@127.0.0.1:9700/postgres',
    citusDocs: Math.min(docs, positiveInteger('citus-docs', values['citus-docs'], 10_000)),
    docs,
    indexedIngestDocs: Math.min(
      docs,
      positiveInteger('indexed-ingest-docs', values['indexed-ingest-docs'], 10_000),
    ),
    ingestRuns: positiveInteger('ingest-runs', values['ingest-runs'], 3),
    guideIngestSeconds: positiveInteger('guide-ingest-seconds', values['guide-ingest-seconds'], 20),
    queries: positiveInteger('queries', values.queries, 50),
    latencyRequests: positiveInteger('latency-requests', values['latency-requests'], 200),
    pgliteDocs: positiveInteger('pglite-docs', values['pglite-docs'], 2_000),
    sotuDocs: positiveInteger('sotu-docs', values['sotu-docs'], 0, true),
    efSearch,
    skip,
    seed: positiveInteger('seed', values.seed, 6),
    outDir: values.out ?? defaultOutDir,
    argv,
  };
}
