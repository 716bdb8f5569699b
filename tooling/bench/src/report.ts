import type { IngestMeasurement, IngestMethod, IngestMode } from './ingest-bench';
import type { MachineInfo } from './machine';
import type { PgliteReport } from './pglite-bench';
import type { RecallPoint } from './recall-bench';
import type { LatencyReport, SearchMode } from './search-bench';
import type { SotuReport } from './sotu-bench';

export interface Target {
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  config: Record<string, unknown>;
  machine: MachineInfo;
  synthetic: Record<string, unknown>;
  ingest?: { docs: number; measurements: IngestMeasurement[]; indexBuildSeconds: number };
  latency?: LatencyReport;
  recall?: RecallPoint[];
  sotu?: SotuReport;
  pglite?: PgliteReport;
  targets: Target[];
}

const METHOD_NAMES: Record<IngestMethod, string> = {
  'quarry-bulk': 'Quarry bulk path (`bulkIngestDocuments`)',
  'quarry-api': 'Quarry API path (`documents.ingest` over HTTP, 1,000 per call)',
  'guide-a': "A: the guide's pattern (Drizzle, text vector, one INSERT per document)",
  'raw-copy-b': 'B: raw `COPY ... (FORMAT BINARY)` through postgres.js',
};
const MODE_NAMES: Record<IngestMode, string> = { 'index-after-load': 'no index during the load', 'index-present': 'HNSW index present' };

function find(measurements: readonly IngestMeasurement[], method: IngestMethod, mode: IngestMode) {
  return measurements.find((entry) => entry.method === method && entry.mode === mode);
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : Math.round((a / b) * 100) / 100;
}

const fmt = (value: number | undefined, digits = 2) => (value === undefined ? 'n/a' : value.toLocaleString('en', { maximumFractionDigits: digits }));

export function evaluateTargets(result: BenchResult): Target[] {
  const targets: Target[] = [];
  const measurements = result.ingest?.measurements ?? [];
  for (const mode of ['index-after-load', 'index-present'] as const) {
    const bulk = find(measurements, 'quarry-bulk', mode)?.docsPerSecond;
    const vsA = ratio(bulk, find(measurements, 'guide-a', mode)?.docsPerSecond);
    const vsB = ratio(bulk, find(measurements, 'raw-copy-b', mode)?.docsPerSecond);
    if (vsA !== undefined) targets.push({ target: `Bulk ingest ≥ 10× baseline A (${MODE_NAMES[mode]})`, measured: `${fmt(vsA)}×`, met: vsA >= 10 });
    if (vsB !== undefined) targets.push({ target: `Bulk ingest ≥ 0.8× baseline B (${MODE_NAMES[mode]})`, measured: `${fmt(vsB)}×`, met: vsB >= 0.8 });
  }
  for (const entry of result.latency?.measurements ?? []) {
    targets.push({ target: `API p50 ≤ 1.5× direct SQL p50 (${entry.mode}, concurrency ${entry.concurrency})`, measured: `${fmt(entry.overheadP50)}× (${fmt(entry.api.p50)} vs ${fmt(entry.direct.p50)} ms)`, met: entry.overheadP50 <= 1.5 });
  }
  const defaultPoints = (points: readonly RecallPoint[] | undefined) => (points ?? []).filter((point) => point.system === 'quarry' && point.efSearch === 40 && point.filter !== 'none');
  for (const [label, points] of [['synthetic', result.recall], ['SOTU', result.sotu?.recall], ['PGlite', result.pglite?.recall]] as const) {
    for (const point of defaultPoints(points)) {
      targets.push({
        target: `Filtered recall@10 ≥ 0.95, no short results (${label}, filter ${point.filter})`,
        measured: `recall ${fmt(point.recall, 3)} (min ${fmt(point.minRecall)}), short ${fmt(point.shortShare * 100, 1)} %`,
        met: point.recall >= 0.95 && point.shortShare === 0,
      });
    }
  }
  for (const concurrency of [1, 8]) {
    const vector = result.latency?.measurements.find((entry) => entry.mode === 'vector' && entry.concurrency === concurrency);
    const hybrid = result.latency?.measurements.find((entry) => entry.mode === 'hybrid' && entry.concurrency === concurrency);
    const hybridRatio = ratio(hybrid?.api.p50, vector?.api.p50);
    if (hybridRatio !== undefined) {
      targets.push({ target: `Hybrid p50 ≤ 2× vector p50 (API, concurrency ${concurrency})`, measured: `${fmt(hybridRatio)}× (${fmt(hybrid?.api.p50)} vs ${fmt(vector?.api.p50)} ms)`, met: hybridRatio <= 2 });
    }
  }
  return targets;
}

function table(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const line = (cells: ReadonlyArray<string | number>) => `| ${cells.map((cell) => String(cell)).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function recallTable(points: readonly RecallPoint[], efSearch = 40): string {
  const filters = [...new Set(points.map((point) => point.filter))];
  return table(
    ['filter', 'rows matching (mean)', 'Quarry recall@10', 'Quarry short results', 'Quarry p50 ms', 'Quarry strategy', 'guide recall@10', 'guide short results', 'guide p50 ms'],
    filters.map((filter) => {
      const quarry = points.find((point) => point.filter === filter && point.system === 'quarry' && point.efSearch === efSearch);
      const guide = points.find((point) => point.filter === filter && point.system === 'guide' && point.efSearch === efSearch);
      const strategies = Object.entries(quarry?.strategies ?? {}).map(([name, count]) => `${name} ×${count}`).join(', ');
      return [
        filter,
        fmt(quarry?.meanMatching ?? guide?.meanMatching, 0),
        fmt(quarry?.recall, 3),
        `${fmt((quarry?.shortShare ?? 0) * 100, 1)} %`,
        fmt(quarry?.p50Ms),
        strategies || 'n/a',
        fmt(guide?.recall, 3),
        `${fmt((guide?.shortShare ?? 0) * 100, 1)} %`,
        fmt(guide?.p50Ms),
      ];
    }),
  );
}

export function renderMarkdown(result: BenchResult): string {
  const { machine } = result;
  const out: string[] = [];
  out.push('# Quarry benchmark: latest results', '');
  out.push(`Run ${result.startedAt} to ${result.finishedAt} (${result.durationSeconds} s), from the repository root:`, '', '```sh', result.command, '```', '');
  out.push('## Machine', '');
  out.push(
    table(
      ['', ''],
      [
        ['CPU', `${machine.cpu}, ${machine.cores} cores`],
        ['Memory', `${machine.memoryGiB} GiB`],
        ['Load average (1 min) at start / end', `${machine.loadAverageStart} / ${machine.loadAverageEnd ?? 'n/a'} (a shared machine: other work ran alongside)`],
        ['OS / Node', `${machine.os} / ${machine.node}`],
        ['PostgreSQL', machine.postgres],
        ['pgvector', machine.pgvector],
        ...Object.entries(machine.settings).map(([name, value]) => [name, value]),
      ],
    ),
    '',
  );
  const synthetic = result.synthetic;
  out.push('## Data', '');
  out.push(
    `- Synthetic: ${fmt(Number(synthetic.docs), 0)} documents of ${String(synthetic.dimensions)} dimensions, a Gaussian mixture of ${String(synthetic.clusters)} clusters in a ${String(synthetic.latentDimensions)}-dimensional latent space mapped into ${String(synthetic.dimensions)} dimensions by a fixed random linear map, plus isotropic noise (real embeddings have a low intrinsic dimension). Metadata \`sel1\`, \`sel10\`, \`sel50\` is true for 1 %, 10 %, 50 % of rows, independently of the vectors. Texts draw words from a per-cluster vocabulary.`,
    `- Queries: fresh draws from the same mixture (never in the data); ${String(synthetic.queries)} for recall, 100 cycled for latency. Ground truth: exact cosine distances computed by brute force over the float32 vectors; ties with the 10th neighbour count as hits.`,
  );
  if (result.sotu) {
    out.push(`- Real: the State of the Union corpus (\`@quarry/corpus\`), ${fmt(result.sotu.passages, 0)} passages embedded with the offline provider (100 dimensions); ${result.sotu.queries} held-out passages (every 40th, not loaded) as queries; filters by president and by decade, each query's value drawn from the data rows.`);
  }
  out.push('');

  out.push('## Targets', '');
  out.push(table(['target', 'measured', 'met'], result.targets.map((target) => [target.target, target.measured, target.met ? 'yes' : '**missed**'])), '');

  if (result.ingest) {
    const { measurements, indexBuildSeconds, docs } = result.ingest;
    out.push('## 1. Bulk ingest', '');
    out.push(
      table(
        ['method', 'mode', 'documents', 'seconds', 'docs/s', '× A', '× B'],
        measurements.map((entry) => [
          METHOD_NAMES[entry.method],
          MODE_NAMES[entry.mode],
          fmt(entry.docs, 0),
          fmt(entry.seconds),
          fmt(entry.docsPerSecond, 0),
          fmt(ratio(entry.docsPerSecond, find(measurements, 'guide-a', entry.mode)?.docsPerSecond)),
          fmt(ratio(entry.docsPerSecond, find(measurements, 'raw-copy-b', entry.mode)?.docsPerSecond)),
        ]),
      ),
      '',
    );
    const bulk = find(measurements, 'quarry-bulk', 'index-after-load');
    if (bulk) {
      out.push(
        `Building the HNSW index after the bulk load (Quarry's \`ensureVectorIndex\`: \`CREATE INDEX CONCURRENTLY\`, m = 16, ef_construction = 64) took ${fmt(indexBuildSeconds)} s for ${fmt(docs, 0)} documents; load plus build: ${fmt(docs / (bulk.seconds + indexBuildSeconds), 0)} docs/s.`,
        `The guide's baseline runs for a capped time and counts what it wrote; with the index present every method loads ${fmt(find(measurements, 'quarry-bulk', 'index-present')?.docs, 0)} documents into a new, empty collection whose index exists.`,
        '',
      );
    }
  }

  if (result.latency) {
    out.push('## 2. Search latency: HTTP API vs the same SQL sent directly', '');
    out.push(
      table(
        ['mode', 'concurrency', 'API (HTTP) p50 / p95 / p99 ms', 'in-process caller p50 / p95 / p99 ms', 'direct SQL p50 / p95 / p99 ms', 'API ÷ direct (p50)', 'req/s: API / in-process / direct'],
        result.latency.measurements.map((entry) => [
          entry.mode,
          entry.concurrency,
          `${fmt(entry.api.p50)} / ${fmt(entry.api.p95)} / ${fmt(entry.api.p99)}`,
          `${fmt(entry.inProcess.p50)} / ${fmt(entry.inProcess.p95)} / ${fmt(entry.inProcess.p99)}`,
          `${fmt(entry.direct.p50)} / ${fmt(entry.direct.p95)} / ${fmt(entry.direct.p99)}`,
          `${fmt(entry.overheadP50)}×`,
          `${fmt(entry.api.throughput, 1)} / ${fmt(entry.inProcess.throughput, 1)} / ${fmt(entry.direct.throughput, 1)}`,
        ]),
      ),
      '',
      `The API runs in a child process (node:http + tRPC's fetch adapter, queries by POST), called through \`@trpc/client\`; k = 10. The direct path sends one statement per search through postgres.js: the SELECT Quarry runs, without Quarry's collection lookup, transaction and settings; hybrid is one statement fusing both lists by RRF. Same documents returned for the first query: ${(['vector', 'keyword', 'hybrid'] as SearchMode[]).map((mode) => `${mode} ${result.latency?.sameResults[mode] ? 'yes' : 'no'}`).join(', ')}.`,
      '',
    );
  }

  if (result.recall) {
    out.push('## 3. Filtered recall@10 against exact search (synthetic)', '');
    out.push('Default settings (ef_search 40, nothing set): Quarry\'s `search.query` through an in-process caller, and the guide\'s query (HNSW ORDER BY with the filter in the WHERE clause) through postgres.js.', '');
    out.push(recallTable(result.recall), '');
    out.push('![Filtered recall@10 against p50 latency](recall-latency.svg)', '');
    out.push('The ef_search sweep behind the chart:', '');
    out.push(
      table(
        ['filter', 'system', 'ef_search', 'recall@10', 'short results', 'p50 ms', 'p95 ms'],
        result.recall.map((point) => [point.filter, point.system, point.efSearch, fmt(point.recall, 3), `${fmt(point.shortShare * 100, 1)} %`, fmt(point.p50Ms), fmt(point.p95Ms)]),
      ),
      '',
    );
  }

  if (result.sotu) {
    const sotu = result.sotu;
    out.push('## 3b. State of the Union (real text, offline embeddings)', '');
    out.push(
      `Embedding ${fmt(sotu.embedding.docs, 0)} passages: ${fmt(sotu.embedding.seconds)} s (${fmt(sotu.embedding.docsPerSecond, 0)} docs/s). Bulk ingest: ${fmt(sotu.bulkIngest.seconds)} s (${fmt(sotu.bulkIngest.docsPerSecond, 0)} docs/s); index build ${fmt(sotu.indexBuildSeconds)} s.`,
      '',
      recallTable(sotu.recall),
      '',
      `Text queries (two words of a held-out passage) through the in-process caller, p50 / p95: vector ${fmt(sotu.latencyByMode.vector.p50)} / ${fmt(sotu.latencyByMode.vector.p95)} ms (includes embedding the text), keyword ${fmt(sotu.latencyByMode.keyword.p50)} / ${fmt(sotu.latencyByMode.keyword.p95)} ms, hybrid ${fmt(sotu.latencyByMode.hybrid.p50)} / ${fmt(sotu.latencyByMode.hybrid.p95)} ms.`,
      '',
    );
  }

  if (result.pglite) {
    const pglite = result.pglite;
    out.push(`## 4. Embedded PGlite (${fmt(pglite.docs, 0)} synthetic documents)`, '');
    out.push(
      table(
        ['measure', 'value'],
        [
          ['create + migrate a new database', `${fmt(pglite.createAndMigrateSeconds)} s`],
          ...pglite.ingest.map((entry) => [`ingest: ${METHOD_NAMES[entry.method === 'quarry-api' ? 'quarry-api' : entry.method].replace(' over HTTP', ' (in-process caller)')}`, `${fmt(entry.docsPerSecond, 0)} docs/s (${fmt(entry.docs, 0)} docs)`]),
          ['HNSW index build after the load', `${fmt(pglite.indexBuildSeconds)} s`],
          ...(['vector', 'keyword', 'hybrid'] as const).map((mode) => [`${mode} search p50 / p95`, `${fmt(pglite.latencyByMode[mode].p50)} / ${fmt(pglite.latencyByMode[mode].p95)} ms`]),
          ['cold start: new process to first search result', `${fmt(pglite.coldStart.firstResultMs, 0)} ms (imports ${fmt(pglite.coldStart.importsMs, 0)}, open + migrate ${fmt(pglite.coldStart.openAndMigrateMs, 0)}, first search ${fmt(pglite.coldStart.firstSearchMs, 0)})`],
        ],
      ),
      '',
      recallTable(pglite.recall),
      '',
    );
  }
  return `${out.join('\n')}\n`;
}
