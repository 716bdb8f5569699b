import { contentHash, type StoredQueryItem } from '@quarry/api';
import { isQuarryClientError, quarryCodeOf } from '@quarry/client';
import type { ChunkOptions } from './chunk';
import { countDocuments, readDocuments, type InputSource, type SourcedDocument } from './sources';
import type { QuarryTarget } from './target';

export interface IngestOptions {
  collection: string;
  tenant?: string;
  batchSize: number;
  concurrency: number;
  chunking: ChunkOptions;
  /**
   * Ask the server which documents of each batch it already has (`documents.stored`) and send
   * only the rest; off when the collection is known to be empty.
   */
  checkStored: boolean;
}

export interface IngestSummary {
  /** Read from the input. */
  documents: number;
  /** Sent to the server to be written. */
  sent: number;
  inserted: number;
  updated: number;
  /**
   * Already stored unchanged: found by asking the server before sending (not sent), or sent and
   * reported unchanged by it (when another writer stored it in between).
   */
  unchanged: number;
  /** Repeats of an earlier document of this run (the same content, or the same id and fields): not sent. */
  duplicates: number;
  batches: number;
  seconds: number;
  /**
   * Whether the server was asked what it has: `unsupported` when it is older than
   * `documents.stored` (everything was sent; its ingest still leaves stored documents unchanged).
   */
  storedCheck: 'asked' | 'not needed' | 'unsupported';
}

/** A server older than `documents.stored` answers NOT_FOUND for the path itself, with no domain code. */
function isMissingProcedure(error: unknown): boolean {
  return (
    isQuarryClientError(error) &&
    error.data?.code === 'NOT_FOUND' &&
    quarryCodeOf(error) === undefined
  );
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

interface Pending extends SourcedDocument {
  hash: string;
}

/**
 * What makes a document a repeat of an earlier one, by the server's rule: without an external id,
 * its content (the server keeps the first); with one, the id and every field.
 */
function runKey(item: Pending): string {
  const { externalId, content, metadata, embedding } = item.document;
  if (externalId === undefined) return `hash:${item.hash}`;
  return `id:${contentHash(JSON.stringify([externalId, content, metadata ?? {}, embedding ?? null]))}`;
}

/** How `documents.stored` names a stored document: by external id, or else by content hash. */
const storedKey = (externalId: string | null | undefined, hash: string) =>
  externalId == null ? `hash:${hash}` : `id:${externalId}`;

/** What `documents.stored` is asked: the content's hash, and (with an external id) the fields it compares. */
function storedQueryItem(item: Pending): StoredQueryItem {
  const { externalId, metadata, embedding } = item.document;
  if (externalId === undefined) return { contentHash: item.hash };
  return {
    contentHash: item.hash,
    externalId,
    ...(metadata ? { metadata } : {}),
    ...(embedding ? { embedding } : {}),
  };
}

/**
 * Sends the input in batches, `concurrency` at a time. Repeats within the input are dropped; of
 * each batch, the server is first asked which documents it already has unchanged (one request),
 * and only the others are sent, as one transaction. A rerun after a failure therefore sends only
 * what is missing, so an interrupted ingest is resumed by running it again.
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
    sent: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    duplicates: 0,
    batches: 0,
    seconds: 0,
    storedCheck: options.checkStored ? 'asked' : 'not needed',
  };
  // Files are read twice (count, then send) so the bar has a total and bad input fails before any write.
  if (source.kind === 'files') progress.setTotal(await countDocuments(source, options.chunking));
  const concurrency = Math.max(1, Math.min(options.concurrency, target.maxConcurrency));
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown; batch: Pending[] } | undefined;
  let done = 0;
  const scope = {
    collection: options.collection,
    ...(options.tenant ? { tenant: options.tenant } : {}),
  };

  const sendBatch = async (batch: Pending[]) => {
    let missing = batch;
    if (summary.storedCheck === 'asked') {
      const answer = await target
        .stored({ ...scope, items: batch.map(storedQueryItem) })
        .catch((error: unknown) => {
          if (!isMissingProcedure(error)) throw error;
          summary.storedCheck = 'unsupported';
          return undefined;
        });
      if (answer) {
        const have = new Set(
          answer.stored.map((pair) => storedKey(pair.externalId, pair.contentHash)),
        );
        missing = batch.filter((item) => !have.has(storedKey(item.document.externalId, item.hash)));
        summary.unchanged += batch.length - missing.length;
      }
    }
    if (missing.length > 0) {
      const result = await target.ingest({
        ...scope,
        documents: missing.map((item) => item.document),
      });
      summary.sent += missing.length;
      summary.inserted += result.inserted;
      summary.updated += result.updated;
      summary.unchanged += result.unchanged;
    }
    summary.batches++;
    done += batch.length;
    progress.update(done);
  };
  const send = (batch: Pending[]) => {
    const task = sendBatch(batch)
      .catch((error: unknown) => {
        failure ??= { error, batch };
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  const seen = new Set<string>();
  let batch: Pending[] = [];
  for await (const sourced of readDocuments(source, options.chunking)) {
    if (failure) break;
    summary.documents++;
    const item = { ...sourced, hash: contentHash(sourced.document.content) };
    const key = runKey(item);
    if (seen.has(key)) {
      summary.duplicates++;
      progress.update(++done);
      continue;
    }
    seen.add(key);
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
