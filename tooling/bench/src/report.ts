import type { IngestMeasurement, IngestMethod, IngestMode } from './ingest-bench';
import { renderCitus, type CitusReport } from './citus-bench';
import type { MachineInfo } from './machine';
import type { PgliteReport } from './pglite-bench';
import type { RecallPoint } from './recall-bench';
import type { LatencyReport, SearchMode } from './search-bench';
import { qualityTargets, renderQuality, type QualityReport } from './quality-bench';
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
  ingest?: {
    docs: number;
    runs?: number;
    measurements: IngestMeasurement[];
    indexBuildSeconds: number;
  };
  latency?: LatencyReport;
  recall?: RecallPoint[];
  sotu?: SotuReport;
  quality?: QualityReport;
  pglite?: PgliteReport;
  /** The Citus part, or why it did not run. */
  citus?: CitusReport | { skipped: string };
  targets: Target[];
}

const METHOD_NAMES: Record<IngestMethod, string> = {
  'guide-batched': "the guide's pattern, batched (Drizzle, text vectors, 500 rows per INSERT)",
  langchain: 'LangChain.js `PGVectorStore.addVectors` (node-postgres, 500 rows per INSERT)',
  'raw-copy': 'binary `COPY ... (FORMAT BINARY)` with postgres.js (the practical limit)',
  'quarry-http-stream':
    '**Quarry streaming ingest over HTTP** (server in a child process; NDJSON, base64 vectors)',
  'quarry-cli':
    '**`quarry ingest` CLI** (child process; JSONL with JSON vectors on stdin, streamed to the server)',
  'quarry-cli-base64':
    '**`quarry ingest` CLI** (child process; JSONL with base64 vectors on stdin, streamed to the server)',
  'quarry-in-process':
    'Quarry pipeline in process (`ingestDocuments`, 10,000 per call; not a user path)',
};
const PGLITE_METHOD_NAMES: Record<PgliteReport['ingest'][number]['method'], string> = {
  'quarry-bulk': 'Quarry bulk path (binary COPY from a Blob)',
  'quarry-api': 'Quarry `documents.ingest` (in-process caller, 1,000 per call)',
  'guide-a': "A: the guide's pattern (one INSERT per document)",
};
const MODE_NAMES: Record<IngestMode, string> = {
  'no-index': 'new collection, no index during the load',
  'until-searchable': 'new collection, until searchable (load + HNSW index)',
  'index-present': 'into a collection already holding the corpus with its HNSW index',
};
/** The server's resident memory during a streaming load must stay under this. */
const STREAM_RSS_LIMIT_MIB = 400;
/** Issue 12's recall target at default settings, with and without a filter. */
const RECALL_TARGET = 'Recall@10 ≥ 0.95, worst query ≥ 0.5, no short results';

/**
 * Issue 12: at default settings, Quarry's p50 within this factor of the fastest pgvector mode
 * (pgvectorModes) whose recall reaches MODE_RECALL on the same data, in the same run.
 */
const LATENCY_AT_RECALL_BOUND = 1.1;
const MODE_RECALL = 0.95;
const LATENCY_AT_RECALL_TARGET = `Quarry p50 ≤ ${LATENCY_AT_RECALL_BOUND}× the fastest pgvector mode with recall@10 ≥ ${MODE_RECALL} (defaults, in process)`;

/** The fastest pgvector mode at its defaults (ef_search 40 unless the mode sets it) reaching MODE_RECALL. */
function fastestModeAtRecall(
  points: readonly RecallPoint[],
  filter: string,
): RecallPoint | undefined {
  return points
    .filter(
      (point) =>
        point.filter === filter &&
        point.system.startsWith('pgvector ') &&
        point.efSearch === 40 &&
        point.recall >= MODE_RECALL,
    )
    .sort((a, b) => a.p50Ms - b.p50Ms)[0];
}

function find(measurements: readonly IngestMeasurement[], method: IngestMethod, mode: IngestMode) {
  return measurements.find((entry) => entry.method === method && entry.mode === mode);
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0
    ? undefined
    : Math.round((a / b) * 100) / 100;
}

const fmt = (value: number | undefined, digits = 2) =>
  value === undefined ? 'n/a' : value.toLocaleString('en', { maximumFractionDigits: digits });

export function evaluateTargets(result: BenchResult): Target[] {
  const targets: Target[] = [];
  const measurements = result.ingest?.measurements ?? [];
  const rate = (method: IngestMethod, mode: IngestMode) =>
    find(measurements, method, mode)?.docsPerSecond;
  const targetNames = {
    'quarry-http-stream': 'HTTP streaming ingest',
    'quarry-cli': '`quarry ingest` CLI (JSON vectors)',
    'quarry-cli-base64': '`quarry ingest` CLI (base64 vectors)',
  } as const;
  for (const [method, name] of Object.entries(targetNames) as Array<
    [keyof typeof targetNames, string]
  >) {
    const vsCopy = ratio(rate(method, 'no-index'), rate('raw-copy', 'no-index'));
    const vsGuide = ratio(rate(method, 'no-index'), rate('guide-batched', 'no-index'));
    if (vsCopy !== undefined)
      targets.push({
        target: `${name} ≥ 0.8× binary COPY (no index)`,
        measured: `${fmt(vsCopy)}× (${fmt(rate(method, 'no-index'), 0)} vs ${fmt(rate('raw-copy', 'no-index'), 0)} docs/s)`,
        met: vsCopy >= 0.8,
      });
    if (vsGuide !== undefined)
      targets.push({
        target: `${name} ≥ 10× the guide's batched INSERT (no index)`,
        measured: `${fmt(vsGuide)}×`,
        met: vsGuide >= 10,
      });
  }
  const searchable = find(measurements, 'quarry-http-stream', 'until-searchable');
  const copyAndIndex = find(measurements, 'raw-copy', 'until-searchable');
  const searchableRatio = ratio(searchable?.seconds, copyAndIndex?.seconds);
  if (searchableRatio !== undefined)
    targets.push({
      target: 'Time until searchable (new collection) ≤ 1.2× binary COPY + CREATE INDEX',
      measured: `${fmt(searchableRatio)}× (${fmt(searchable?.seconds)} vs ${fmt(copyAndIndex?.seconds)} s; index ${searchable?.indexAction ?? 'n/a'})`,
      met: searchableRatio <= 1.2,
    });
  const presentRatio = ratio(
    rate('quarry-http-stream', 'index-present'),
    rate('raw-copy', 'index-present'),
  );
  if (presentRatio !== undefined)
    targets.push({
      target: 'Streaming ingest into an indexed collection ≥ 0.8× binary COPY into the same table',
      measured: `${fmt(presentRatio)}× (${fmt(rate('quarry-http-stream', 'index-present'), 0)} vs ${fmt(rate('raw-copy', 'index-present'), 0)} docs/s)`,
      met: presentRatio >= 0.8,
    });
  const rss = find(measurements, 'quarry-http-stream', 'no-index')?.serverRssMiB;
  if (rss !== undefined)
    targets.push({
      target: `Server RSS during the streaming load < ${STREAM_RSS_LIMIT_MIB} MiB`,
      measured: `${fmt(rss, 0)} MiB (peak)`,
      met: rss < STREAM_RSS_LIMIT_MIB,
    });
  for (const entry of result.latency?.measurements ?? []) {
    // Issue 12: within 1.3× of the SQL alone, 1.5× when 8 requests share the machine.
    const bound = entry.concurrency === 1 ? 1.3 : 1.5;
    targets.push({
      target: `API p50 ≤ ${bound}× direct SQL p50 (${entry.mode}, concurrency ${entry.concurrency})`,
      measured: `${fmt(entry.overheadP50)}× (${fmt(entry.api.p50)} vs ${fmt(entry.direct.p50)} ms)`,
      met: entry.overheadP50 <= bound,
    });
  }
  const throughput = result.latency?.throughput;
  if (throughput)
    targets.push({
      target: `Mixed-search throughput, ${throughput.clients} clients on ${throughput.documents.toLocaleString('en')} × ${throughput.dimensions}: API ≥ 0.7× direct SQL`,
      measured: `${fmt(throughput.ratio)}× (${fmt(throughput.api.throughput, 1)} vs ${fmt(throughput.direct.throughput, 1)} req/s)`,
      met: throughput.ratio >= 0.7,
    });
  const defaultPoints = (points: readonly RecallPoint[] | undefined) =>
    (points ?? []).filter((point) => point.system === 'quarry' && point.efSearch === 40);
  for (const [label, points] of [
    ['synthetic', result.recall],
    ['SOTU', result.sotu?.recall],
    ['PGlite', result.pglite?.recall],
  ] as const) {
    for (const point of defaultPoints(points)) {
      targets.push({
        target: `${RECALL_TARGET} (${label}, filter ${point.filter})`,
        measured: `recall ${fmt(point.recall, 3)} (min ${fmt(point.minRecall)}), short ${fmt(point.shortShare * 100, 1)} %`,
        met: point.recall >= 0.95 && point.minRecall >= 0.5 && point.shortShare === 0,
      });
      const paceSetter = fastestModeAtRecall(points ?? [], point.filter);
      if (!paceSetter && !(points ?? []).some((other) => other.system.startsWith('pgvector ')))
        continue;
      const paceRatio = paceSetter ? ratio(point.p50Ms, paceSetter.p50Ms) : undefined;
      targets.push({
        target: `${LATENCY_AT_RECALL_TARGET} (${label}, filter ${point.filter})`,
        measured: paceSetter
          ? `${fmt(paceRatio)}× (${fmt(point.p50Ms)} vs ${fmt(paceSetter.p50Ms)} ms, ${paceSetter.system.replace('pgvector ', '')} at recall ${fmt(paceSetter.recall, 3)})`
          : `no pgvector mode reaches recall ${MODE_RECALL}; Quarry ${fmt(point.p50Ms)} ms at recall ${fmt(point.recall, 3)}`,
        met:
          point.recall >= MODE_RECALL &&
          (paceRatio === undefined || paceRatio <= LATENCY_AT_RECALL_BOUND),
      });
    }
  }
  for (const concurrency of [1, 8]) {
    const vector = result.latency?.measurements.find(
      (entry) => entry.mode === 'vector' && entry.concurrency === concurrency,
    );
    const hybrid = result.latency?.measurements.find(
      (entry) => entry.mode === 'hybrid' && entry.concurrency === concurrency,
    );
    const hybridRatio = ratio(hybrid?.api.p50, vector?.api.p50);
    if (hybridRatio !== undefined) {
      targets.push({
        target: `Hybrid p50 ≤ 2× vector p50 (API, concurrency ${concurrency})`,
        measured: `${fmt(hybridRatio)}× (${fmt(hybrid?.api.p50)} vs ${fmt(vector?.api.p50)} ms)`,
        met: hybridRatio <= 2,
      });
    }
  }
  if (result.quality) targets.push(...qualityTargets(result.quality));
  return targets;
}

// Quarry's default hybrid candidates at k = 10: max(40, 4k).
const HYBRID_NOTE_CANDIDATES = 40;

/**
 * Why each missed target was missed, with this run's figures. The causes were found with EXPLAIN
 * ANALYZE (auto_explain) and CPU profiles of the same workloads; see tooling/bench/README.md.
 */

export function explainResults(result: BenchResult): string[] {
  const notes: string[] = [];
  const missed = (prefix: string) =>
    result.targets.some((target) => !target.met && target.target.startsWith(prefix));
  const loads = result.ingest?.measurements ?? [];
  const noIndex = (method: IngestMethod) => find(loads, method, 'no-index');
  const copy = noIndex('raw-copy');
  const stream = noIndex('quarry-http-stream');
  if (copy && stream && (missed('HTTP streaming ingest') || missed('`quarry ingest` CLI'))) {
    const inProcess = noIndex('quarry-in-process');
    const cli = noIndex('quarry-cli');
    const cliBase64 = noIndex('quarry-cli-base64');
    const guide = noIndex('guide-batched');
    notes.push(
      `**Ingest (${fmt(copy.docs, 0)} documents, no index: binary COPY ${fmt(copy.seconds)} s${inProcess ? `, Quarry's pipeline in process ${fmt(inProcess.seconds)} s` : ''}, over HTTP ${fmt(stream.seconds)} s${cli ? `, the CLI ${fmt(cli.seconds)} s with JSON vectors` : ''}${cliBase64 ? ` and ${fmt(cliBase64.seconds)} s with base64` : ''}).** The COPY is handed rows already encoded and writes them in one transaction. Quarry checks every document and vector (dimensions, each component a finite float32), hashes each content for deduplication, encodes the COPY rows itself and commits in chunks (so a load cut off knows what is stored): CPU in the server process, on 2 cores shared with PostgreSQL's own work on the COPY. Over HTTP the server also reads the NDJSON and decodes each base64 vector. The CLI is a third process that reads and parses its input before sending it: with JSON vectors, parsing 1,536 numbers a line keeps it at a full core, and that is the limit.${guide && guide.seconds / copy.seconds < 10 ? ` Against the guide's batched INSERT (${fmt(guide.seconds)} s) binary COPY itself is ${fmt(guide.seconds / copy.seconds)}×: ≥ 10× asks for more than the driver's fastest path on this machine.` : ''}`,
    );
  }
  const latency = result.latency?.measurements ?? [];
  if (missed('API p50 ≤ 1.5× direct')) {
    const vector = latency.find((entry) => entry.mode === 'vector' && entry.concurrency === 1);
    if (vector) {
      notes.push(
        `**API overhead (vector search at concurrency 1: ${fmt(vector.api.p50)} ms through HTTP, ${fmt(vector.inProcess.p50)} ms in process, ${fmt(vector.direct.p50)} ms direct).** Of the p50 gap, ${vector.directAtQuarryEf && vector.directAtQuarryEf.p50 >= vector.direct.p50 ? `${fmt(vector.directAtQuarryEf.p50 - vector.direct.p50)} ms is the database searching wider (the same SELECT at Quarry's ef_search ${fmt(vector.quarryEfSearch ?? undefined, 0)}, which its recall rule picks for this index: its calibration × 2.5, at least 100, takes ${fmt(vector.directAtQuarryEf.p50)} ms against ${fmt(vector.direct.p50)} at 40), ${fmt(vector.inProcess.p50 - vector.directAtQuarryEf.p50)} ms Quarry's own work` : `${fmt(vector.inProcess.p50 - vector.direct.p50)} ms is Quarry's own work`} and ${fmt(vector.api.p50 - vector.inProcess.p50)} ms is HTTP (node:http on both sides, tRPC's fetch adapter and client, and a 1,536-number vector JSON-encoded, parsed and validated on its way in; a bare node:http round trip with such a body costs 0.3–1 ms here before any of Quarry runs). An unrestricted vector search is one round trip, as the direct path is: the collection comes from a cache, and BEGIN READ ONLY, the request settings (statement_timeout, hnsw.ef_search, and the planner settings that keep the HNSW index in use), the SELECT and COMMIT leave in one write (the transaction is what keeps those settings from leaking to the next request through a transaction pooler); a filtered search adds its planning probe. What remains is CPU in the server process: the statements are built once per shape (the settings statement, and the HNSW and keyword queries of a search restricted by nothing but its collection and tenant; filtered queries are still built by Drizzle per request), but the query vector is still written as text (the direct path gets it ready), the 1,536-number body parsed and validated, tRPC's fetch adapter and node:http run per request, and garbage collected after. At concurrency 8, on 2 cores shared with PostgreSQL, that CPU is the limit; in the throughput test the server also waits on PostgreSQL, which runs Quarry's transaction, settings and the filtered search's planning probe besides the SELECT. The database runs the same SELECT either way, Quarry's at a wider ef_search (see the column at Quarry's ef_search).`,
      );
    }
  }
  if (missed('Hybrid p50 ≤ 2×')) {
    const vector = latency.find((entry) => entry.mode === 'vector' && entry.concurrency === 1);
    const keyword = latency.find((entry) => entry.mode === 'keyword' && entry.concurrency === 1);
    const hybrid = latency.find((entry) => entry.mode === 'hybrid' && entry.concurrency === 1);
    notes.push(
      `**Hybrid search (${fmt(hybrid?.api.p50)} ms against ${fmt(vector?.api.p50)} ms for vector and ${fmt(keyword?.api.p50)} ms for keyword alone, through the API).** Most of the cost is in the database, not in Quarry: the direct hybrid statement (both retrievals of ${HYBRID_NOTE_CANDIDATES} candidates fused by RRF in one SELECT) takes ${fmt(hybrid?.direct.p50)} ms, ${fmt(ratio(hybrid?.direct.p50, vector?.direct.p50))}× the direct vector query, because the keyword retrieval ranks every document that matches the query's words with ts_rank_cd (common words match a large share of the synthetic texts) and both retrievals fetch ${HYBRID_NOTE_CANDIDATES} candidates instead of 10. Quarry runs the keyword retrieval first under the planner's defaults (GIN bitmap scan): the rows with every word when they fill the page, otherwise the OR fallback that weighs each word by its rarity (work the direct statement does not do); it ranks before joining the candidates' columns back, and fuses in the API: ${fmt(ratio(hybrid?.api.p50, hybrid?.direct.p50))}× the direct hybrid statement.`,
    );
  }
  const recallMisses = result.targets.filter(
    (target) => !target.met && target.target.startsWith(RECALL_TARGET),
  );
  if (recallMisses.length > 0) {
    notes.push(
      `**Recall.** Missed: ${recallMisses.map((target) => `${target.target.replace(`${RECALL_TARGET} `, '')}: ${target.measured}`).join('; ')}. See the ef_search sweep: Quarry passes \`efSearch\` to its iterative scan.`,
    );
  }
  const paceMisses = result.targets.filter(
    (target) => !target.met && target.target.startsWith(LATENCY_AT_RECALL_TARGET),
  );
  if (paceMisses.length > 0) {
    notes.push(
      `**Against the pgvector modes at the same recall.** Missed: ${paceMisses.map((target) => `${target.target.replace(`${LATENCY_AT_RECALL_TARGET} `, '')}: ${target.measured}`).join('; ')}. Quarry's figure is its whole search procedure through an in-process caller; the mode's is its SELECT alone (in a transaction with its settings). The database work is alike (the same HNSW scan), but Quarry's is wider: at the ef_search its recall rule picks (the index's calibration × 2.5, at least 100, widened for k and the filter; see the sweep for Quarry at each ef_search), where the modes search at pgvector's 40, which on another build of the same data left a query at recall 0 (packages/api/README.md, "Recall 0"). The rest is Quarry's work around it, the same as in the API overhead note: input validation, the plan (and for a filter its probe of the matching rows), the query vector written as text, the check of the answer against a sample of the collection (256 distances computed while the database answers) and shaping the results. Where no mode reaches the recall (a 1 % filter: the index's candidates hold too few matching rows), Quarry's exact scan is the only one that does.`,
    );
  }
  const guideSotu =
    result.sotu?.recall.filter((point) => point.system === 'guide' && point.filter !== 'none') ??
    [];
  const guideSynthetic =
    result.recall?.filter(
      (point) => point.system === 'guide' && point.efSearch === 40 && point.filter !== 'none',
    ) ?? [];
  if (guideSotu.length > 0 || guideSynthetic.length > 0) {
    notes.push(
      `**The guide's query.** Its plan is the planner's gamble on \`metadata->>'key' = value\`, which it estimates at 0.5 % of rows whatever the truth. On the State of the Union corpus it takes the HNSW index and filters the ~40 candidates ef_search yields: ${guideSotu.map((point) => `${point.filter} recall ${fmt(point.recall, 3)}, short results ${fmt(point.shortShare * 100, 0)} %`).join('; ')}. On the synthetic set it mostly chooses a sequential scan and sort instead, exact but slow: ${guideSynthetic.map((point) => `${point.filter} p50 ${fmt(point.p50Ms)} ms`).join(', ')}. Raising ef_search can tip it to a sequential scan as well (see the sweep). Quarry counts the matching rows first and picks an exact scan (few rows) or the iterative index scan (many), with the index forced.`,
    );
  }
  return notes;
}

function table(
  header: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
): string {
  const line = (cells: ReadonlyArray<string | number>) =>
    `| ${cells.map((cell) => String(cell)).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function recallTable(points: readonly RecallPoint[], efSearch = 40): string {
  const filters = [...new Set(points.map((point) => point.filter))];
  return table(
    [
      'filter',
      'rows matching (mean)',
      'Quarry recall@10',
      'Quarry short results',
      'Quarry p50 ms',
      'Quarry strategy',
      'guide recall@10',
      'guide short results',
      'guide p50 ms',
    ],
    filters.map((filter) => {
      const quarry = points.find(
        (point) =>
          point.filter === filter && point.system === 'quarry' && point.efSearch === efSearch,
      );
      const guide = points.find(
        (point) =>
          point.filter === filter && point.system === 'guide' && point.efSearch === efSearch,
      );
      const strategies = Object.entries(quarry?.strategies ?? {})
        .map(([name, count]) => `${name} ×${count}`)
        .join(', ');
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

/** The ingest figures: each system's median (and spread) against the two baselines. */
function ingestTable(ingest: NonNullable<BenchResult['ingest']>): string {
  const { measurements } = ingest;
  return table(
    [
      'path',
      'load',
      'documents',
      'seconds: median (min–max)',
      'docs/s',
      "× guide's batched INSERT",
      '× binary COPY',
      'server RSS peak',
    ],
    measurements.map((entry) => [
      METHOD_NAMES[entry.method],
      MODE_NAMES[entry.mode],
      fmt(entry.docs, 0),
      `${fmt(entry.seconds)} (${fmt(entry.min)}–${fmt(entry.max)}), ${entry.runs.length} runs`,
      fmt(entry.docsPerSecond, 0),
      fmt(
        ratio(entry.docsPerSecond, find(measurements, 'guide-batched', entry.mode)?.docsPerSecond),
      ),
      fmt(ratio(entry.docsPerSecond, find(measurements, 'raw-copy', entry.mode)?.docsPerSecond)),
      entry.serverRssMiB === undefined ? '' : `${fmt(entry.serverRssMiB, 0)} MiB`,
    ]),
  );
}

/** A latency column's cell: `p50 / p95 / p99`. */
function percentiles(path: { p50: number; p95: number; p99: number }): string {
  return `${fmt(path.p50)} / ${fmt(path.p95)} / ${fmt(path.p99)}`;
}

function targetsTable(result: BenchResult): string {
  return table(
    ['target', 'measured', 'met'],
    result.targets.map((target) => [
      target.target,
      target.measured,
      target.met ? 'yes' : '**missed**',
    ]),
  );
}

export function renderMarkdown(result: BenchResult): string {
  const { machine } = result;
  const out: string[] = [];
  out.push('# Quarry benchmark: latest results', '');
  out.push(
    `Run ${result.startedAt} to ${result.finishedAt} (${result.durationSeconds} s), from the repository root:`,
    '',
    '```sh',
    result.command,
    '```',
    '',
  );
  out.push('## Machine', '');
  out.push(
    table(
      ['', ''],
      [
        ['CPU', `${machine.cpu}, ${machine.cores} cores`],
        ['Memory', `${machine.memoryGiB} GiB`],
        [
          'Load average (1 min) at start / end',
          `${machine.loadAverageStart} / ${machine.loadAverageEnd ?? 'n/a'} (a shared machine: other work ran alongside)`,
        ],
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
    out.push(
      `- Real: the State of the Union corpus (\`@quarry/corpus\`), ${fmt(result.sotu.passages, 0)} passages embedded with the offline provider (100 dimensions); ${result.sotu.queries} held-out passages (every 40th, not loaded) as queries; filters by president and by decade, each query's value drawn from the data rows.`,
    );
  }
  out.push('');

  out.push('## Targets', '');
  out.push(targetsTable(result), '');
  const notes = explainResults(result);
  if (notes.length > 0) out.push('### Why', '', ...notes.flatMap((note) => [note, '']));

  if (result.ingest) {
    const { indexBuildSeconds, docs } = result.ingest;
    out.push('## 1. Ingest', '');
    out.push(ingestTable(result.ingest), '');
    out.push(
      `Every system loads the same ${fmt(docs, 0)} synthetic documents with their vectors supplied, each run into a fresh database (a checkpoint before each timed load), every system's input made before its clock starts (the INSERTs' rows, binary COPY's data, the streaming ingest's NDJSON body, the CLI's JSONL file); seconds are the median of the runs, with the fastest and slowest. Binary COPY, the streaming endpoint and the CLI take turns, one run of each per round, so a machine that speeds up or slows down during the part (shared cores) weighs on all of them alike. Quarry is measured on the paths users run: its server and its CLI as child processes, the streaming endpoint committing chunks of 1,000 documents (each one transaction, binary COPY). "Until searchable" times the load and the HNSW index build together: Quarry told the load's size (\`expected\`) drops the collection's index and builds it once at the end; the baseline is binary COPY then Quarry's index build (\`ensureVectorIndex\`). "Already holding the corpus" loads new documents into a collection of ${fmt(docs, 0)} with its index, both systems into the same table, taking turns. Building the index after the in-process load took ${fmt(indexBuildSeconds)} s.`,
      '',
    );
  }

  if (result.latency) {
    out.push('## 2. Search latency: HTTP API vs the same SQL sent directly', '');
    out.push(
      table(
        [
          'mode',
          'concurrency',
          'API (HTTP) p50 / p95 / p99 ms',
          'in-process caller p50 / p95 / p99 ms',
          'direct SQL p50 / p95 / p99 ms',
          "direct SQL at Quarry's ef_search: p50 / p95 / p99 ms",
          'API ÷ direct (p50)',
          'req/s: API / in-process / direct',
        ],
        result.latency.measurements.map((entry) => [
          entry.mode,
          entry.concurrency,
          percentiles(entry.api),
          percentiles(entry.inProcess),
          percentiles(entry.direct),
          entry.directAtQuarryEf
            ? `${percentiles(entry.directAtQuarryEf)} (ef_search ${fmt(entry.quarryEfSearch ?? undefined, 0)})`
            : 'n/a',
          `${fmt(entry.overheadP50)}×`,
          `${fmt(entry.api.throughput, 1)} / ${fmt(entry.inProcess.throughput, 1)} / ${fmt(entry.direct.throughput, 1)}`,
        ]),
      ),
      '',
      `The API is Quarry's server (apps/server/src/main.ts, started as \`npm start\` runs it: Hono on node:http, tRPC's fetch adapter, one JSON log line per request), queries by POST through Quarry's typed client (\`@quarry/client\`, which sends a call made alone at once, by tRPC's httpLink, and the query vector as base64 float32, its default); k = 10. The direct path sends one statement per search through postgres.js, the vector as pgvector's text, formatted before the clock starts: the SELECT Quarry runs, without Quarry's collection lookup, transaction and settings (so at pgvector's default ef_search, 40); hybrid is one statement fusing both lists by RRF. The next column sends the same statements on connections set to the ef_search Quarry searched with (its rule for recall at this collection's size): what the database's wider search costs, apart from Quarry's own work. Same documents returned for the first query: ${(['vector', 'keyword', 'hybrid'] as SearchMode[]).map((mode) => `${mode} ${result.latency?.sameResults[mode] ? 'yes' : 'no'}`).join(', ')}.`,
      '',
    );
    const throughput = result.latency.throughput;
    if (throughput)
      out.push(
        `Throughput in the reliability load test's shape (${throughput.clients} clients, each sending its next search when the last is answered; ${throughput.documents.toLocaleString('en')} × ${throughput.dimensions} collection; a third each unrestricted vector, vector with a 10 % metadata filter, hybrid of two words; ${throughput.requests} requests per path): API ${fmt(throughput.api.throughput, 1)} req/s (p50 ${fmt(throughput.api.p50)} ms, p99 ${fmt(throughput.api.p99)} ms), in process (no HTTP) ${fmt(throughput.inProcess.throughput, 1)} req/s (p50 ${fmt(throughput.inProcess.p50)} ms), against the same queries as SQL through postgres.js ${fmt(throughput.direct.throughput, 1)} req/s (p50 ${fmt(throughput.direct.p50)} ms), ${fmt(throughput.ratio)}×. The server process used ${fmt(throughput.serverCpuMsPerRequest ?? undefined, 2)} ms of CPU per request.`,
        '',
      );
  }

  if (result.recall) {
    out.push('## 3. Filtered recall@10 against exact search (synthetic)', '');
    out.push(
      "Default settings (ef_search 40, nothing set): Quarry's `search.query` through an in-process caller, and the guide's query (HNSW ORDER BY with the filter in the WHERE clause) through postgres.js.",
      '',
    );
    out.push(recallTable(result.recall), '');
    out.push('![Filtered recall@10 against p50 latency](recall-latency.svg)', '');
    out.push('The ef_search sweep behind the chart:', '');
    out.push(
      table(
        ['filter', 'system', 'ef_search', 'recall@10', 'short results', 'p50 ms', 'p95 ms'],
        result.recall.map((point) => [
          point.filter,
          point.system,
          point.efSearch,
          fmt(point.recall, 3),
          `${fmt(point.shortShare * 100, 1)} %`,
          fmt(point.p50Ms),
          fmt(point.p95Ms),
        ]),
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

  if (result.quality) out.push(...renderQuality(result.quality));
  if (result.citus) out.push(...renderCitus(result.citus));

  if (result.pglite) {
    const pglite = result.pglite;
    out.push(`## 4. Embedded PGlite (${fmt(pglite.docs, 0)} synthetic documents)`, '');
    out.push(
      table(
        ['measure', 'value'],
        [
          ['create + migrate a new database', `${fmt(pglite.createAndMigrateSeconds)} s`],
          ...pglite.ingest.map((entry) => [
            `ingest: ${PGLITE_METHOD_NAMES[entry.method]}`,
            `${fmt(entry.docsPerSecond, 0)} docs/s (${fmt(entry.docs, 0)} docs)`,
          ]),
          ['HNSW index build after the load', `${fmt(pglite.indexBuildSeconds)} s`],
          ...(['vector', 'keyword', 'hybrid'] as const).map((mode) => [
            `${mode} search p50 / p95`,
            `${fmt(pglite.latencyByMode[mode].p50)} / ${fmt(pglite.latencyByMode[mode].p95)} ms`,
          ]),
          [
            'cold start: new process (Node with tsx) to first search result',
            `${fmt(pglite.coldStart.firstResultMs, 0)} ms (Node start ${fmt(pglite.coldStart.firstResultMs - pglite.coldStart.importsMs - pglite.coldStart.openMs - pglite.coldStart.migrateMs - pglite.coldStart.firstSearchMs, 0)}, imports ${fmt(pglite.coldStart.importsMs, 0)}, open ${fmt(pglite.coldStart.openMs, 0)}, migrate ${fmt(pglite.coldStart.migrateMs, 0)}, first search ${fmt(pglite.coldStart.firstSearchMs, 0)})`,
          ],
        ],
      ),
      '',
      recallTable(pglite.recall),
      '',
    );
  }
  return `${out.join('\n')}\n`;
}

const README_START = '<!-- bench:start (written by pnpm bench) -->';
const README_END = '<!-- bench:end -->';

/** The README's benchmark section: when and where it ran, and the targets table. */
export function renderReadmeSection(result: BenchResult): string {
  const { machine } = result;
  return [
    README_START,
    // The table is rewritten by every run; Prettier would only realign it.
    '<!-- prettier-ignore-start -->',
    '',
    `Latest run: \`${result.command}\`, ${result.finishedAt.slice(0, 10)}, ${machine.cores} cores (${machine.cpu}), PostgreSQL ${machine.postgres.split(' ')[1] ?? machine.postgres} with pgvector ${machine.pgvector}, load average ${machine.loadAverageStart} at start. Every figure, the baselines and why each missed target was missed: [bench/results/latest.md](bench/results/latest.md).`,
    '',
    targetsTable(result),
    '',
    ...(result.ingest
      ? [
          `Ingest, ${fmt(result.ingest.docs, 0)} documents × 1,536 dimensions with supplied vectors (median of ${result.ingest.runs ?? 1} runs):`,
          '',
          ingestTable(result.ingest),
          '',
        ]
      : []),
    '<!-- prettier-ignore-end -->',
    README_END,
  ].join('\n');
}

/** `readme` with its benchmark section replaced (or appended, the first time). */
export function replaceReadmeSection(readme: string, section: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) return `${readme.trimEnd()}\n\n## Benchmarks\n\n${section}\n`;
  return `${readme.slice(0, start)}${section}${readme.slice(end + README_END.length)}`;
}
