import type { ChunkOptions } from './chunk';
import { countDocuments, readDocuments, type InputSource, type SourcedDocument } from './sources';
import type { QuarryTarget } from './target';

export interface IngestOptions {
  collection: string;
  tenant?: string;
  batchSize: number;
  concurrency: number;
  chunking: ChunkOptions;
}

export interface IngestSummary {
  documents: number;
  inserted: number;
  updated: number;
  /** Already stored with the same content (by content hash, or by id with identical fields): skipped. */
  unchanged: number;
  batches: number;
  seconds: number;
}

export class IngestFailed extends Error {
  override readonly name = 'IngestFailed';
  constructor(
    message: string,
    readonly summary: IngestSummary,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Sends the input in batches, `concurrency` at a time. Each batch is one transaction on the
 * server; a rerun after a failure skips what is already stored (same content hash, or same id with
 * the same fields), so an interrupted ingest is resumed by running it again.
 */
export async function ingestInput(
  target: QuarryTarget,
  source: InputSource,
  options: IngestOptions,
  progress: { setTotal(total: number): void; update(done: number): void },
): Promise<IngestSummary> {
  const started = performance.now();
  const summary: IngestSummary = {
    documents: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    batches: 0,
    seconds: 0,
  };
  // Files are read twice (count, then send) so the bar has a total and bad input fails before any write.
  if (source.kind === 'files') progress.setTotal(await countDocuments(source, options.chunking));
  const concurrency = Math.max(1, Math.min(options.concurrency, target.maxConcurrency));
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown; batch: SourcedDocument[] } | undefined;

  const send = (batch: SourcedDocument[]) => {
    const task = target
      .ingest({
        collection: options.collection,
        ...(options.tenant ? { tenant: options.tenant } : {}),
        documents: batch.map((item) => item.document),
      })
      .then((result) => {
        summary.inserted += result.inserted;
        summary.updated += result.updated;
        summary.unchanged += result.unchanged;
        summary.documents += batch.length;
        summary.batches++;
        progress.update(summary.documents);
      })
      .catch((error: unknown) => {
        failure ??= { error, batch };
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  let batch: SourcedDocument[] = [];
  for await (const item of readDocuments(source, options.chunking)) {
    if (failure) break;
    batch.push(item);
    if (batch.length < options.batchSize) continue;
    send(batch);
    batch = [];
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  if (batch.length > 0 && !failure) send(batch);
  await Promise.all(inFlight);
  summary.seconds = (performance.now() - started) / 1000;
  if (failure) {
    const { error, batch: failed } = failure;
    const range = `${failed[0]?.origin ?? '?'} … ${failed.at(-1)?.origin ?? '?'}`;
    const reason = error instanceof Error ? error.message : String(error);
    throw new IngestFailed(`the batch ${range} was refused: ${reason}`, summary, { cause: error });
  }
  return summary;
}
