import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { endianness } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StoredQueryItem } from '@quarry/api';
import { contentHash } from '@quarry/api/content-hash';
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
  /** Through a server's streaming endpoint: what its last line reported. */
  stream?: StreamReport;
}

function emptySummary(storedCheck: IngestSummary['storedCheck']): IngestSummary {
  return {
    documents: 0,
    sent: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    duplicates: 0,
    batches: 0,
    seconds: 0,
    storedCheck,
  };
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
 * its content (the server keeps the first); with one, the id and every field. The vector counts
 * by its float32 bytes (what the server stores), hashed as bytes rather than as JSON text.
 */
function runKey(document: SourcedDocument['document'], vector?: Float32Array): string {
  const { externalId, content, metadata, embedding } = document;
  if (externalId === undefined) return `hash:${contentHash(content)}`;
  const hash = createHash('sha256').update(JSON.stringify([externalId, content, metadata ?? {}]));
  const components = vector ?? (embedding ? Float32Array.from(embedding) : undefined);
  if (components)
    hash
      .update('\0')
      .update(new Uint8Array(components.buffer, components.byteOffset, components.byteLength));
  return `id:${hash.digest('hex')}`;
}

/** How `documents.stored` names a stored document: by external id, or else by content hash. */
const storedKey = (externalId: string | null | undefined, hash: string) =>
  externalId == null ? `hash:${hash}` : `id:${externalId}`;

/**
 * What `documents.stored` is asked: the content's hash and the fields the server compares (new
 * metadata or a new vector for the same content is an update, with or without an external id).
 */
function storedQueryItem(item: Pending): StoredQueryItem {
  const { externalId, metadata, embedding } = item.document;
  return {
    contentHash: item.hash,
    ...(externalId !== undefined ? { externalId } : {}),
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
  const summary = emptySummary(options.checkStored ? 'asked' : 'not needed');
  // Files are read twice (count, then send) so the bar has a total and bad input fails before any write.
  if (source.kind === 'files')
    progress.setTotal(await countDocuments(source, options.chunking, true));
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
    const key = runKey(item.document);
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

/** Where a streaming ingest goes: a running server's NDJSON endpoint. */
export interface StreamTarget {
  url: string;
  apiKey?: string | undefined;
}

export interface StreamOptions {
  collection: string;
  tenant?: string;
  /** Documents per committed chunk; the server's limit when unset. */
  chunkSize?: number;
  chunking: ChunkOptions;
  /** The input's first document to send (1-based): the line after the last one a cut-off run reported stored. */
  resumeFromLine: number;
}

/** What the server's `done` line adds to a streamed ingest's summary. */
export interface StreamReport {
  /** The last input document (1-based) known stored. */
  throughLine: number;
  index: { action: string; ms: number };
  /** Load, index build and their sum, as the server measured them. */
  ms: { load: number; index: number; untilSearchable: number };
}

/** Calls `onLine` with each NDJSON line of the answer as it arrives; resolves at its end. */
function readAnswerLines(
  response: IncomingMessage,
  onLine: (line: AnswerLine) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    response.setEncoding('utf8');
    response.on('data', (text: string) => {
      buffered += text;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        onLine(JSON.parse(buffered.slice(0, newline)) as AnswerLine);
        buffered = buffered.slice(newline + 1);
      }
    });
    response.once('end', resolve);
    response.once('error', reject);
  });
}

type AnswerLine = {
  committed?: { throughLine: number; inserted: number; updated: number; unchanged: number };
  error?: { line?: number; firstLine?: number; message: string; field?: string };
  done?: StreamReport & { complete: boolean };
};

/**
 * A document as a line of the body, its vector (the document's embedding as float32) as base64:
 * 2.5x smaller than JSON numbers, and nothing to parse on the server. The vector is spliced in
 * after the other fields rather than passed through JSON.stringify, which would scan its 8 KB.
 */
function ndjsonLine(
  document: SourcedDocument['document'],
  vector: Float32Array | undefined,
): string {
  // Read with float32 vectors, the document holds no embedding of its own.
  const json = JSON.stringify(document);
  if (!vector) return `${json}\n`;
  const bytes = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
  // A Float32Array holds the machine's byte order; the wire's is little-endian.
  const wire = endianness() === 'BE' ? Buffer.from(bytes).swap32() : bytes;
  return `${json.slice(0, -1)},"embedding":"${wire.toString('base64')}"}\n`;
}

/** Lines are handed to the socket in batches of about this many characters, not one write each. */
const WRITE_BATCH_CHARS = 1 << 20;

/**
 * Sends the input as one NDJSON stream to `POST /api/collections/:name/ingest`: the server commits
 * it in chunks and reports each boundary, which moves the progress bar. Line N of the body is
 * document N of the input (a repeat of an earlier document of the run is sent as a blank line, so
 * the numbers stay the input's); a run that fails or is cut off says which line to resume from.
 * Documents the server already stores unchanged are counted `unchanged` by it, not written.
 */
export async function streamInput(
  target: StreamTarget,
  source: InputSource,
  options: StreamOptions,
  progress: { setTotal(total: number): void; update(done: number): void },
): Promise<IngestSummary & { stream: StreamReport }> {
  const started = performance.now();
  const summary: IngestSummary & { stream: StreamReport } = {
    ...emptySummary('not needed'),
    stream: {
      throughLine: options.resumeFromLine - 1,
      index: { action: 'maintained', ms: 0 },
      ms: { load: 0, index: 0, untilSearchable: 0 },
    },
  };
  let total: number | undefined;
  if (source.kind === 'files') {
    // Counted, not checked (the stream checks each line as it sends it): the bar's total, and
    // the load's size for the server.
    total = await countDocuments(source, options.chunking, false);
    progress.setTotal(total);
  }
  const url = new URL(
    `/api/collections/${encodeURIComponent(options.collection)}/ingest`,
    target.url,
  );
  if (options.tenant) url.searchParams.set('tenant', options.tenant);
  if (options.chunkSize) url.searchParams.set('chunk', String(options.chunkSize));
  url.searchParams.set('firstLine', String(options.resumeFromLine));
  // Lets the server build the collection's index once at the end of a large load.
  if (total !== undefined && total >= options.resumeFromLine)
    url.searchParams.set('expected', String(total - options.resumeFromLine + 1));

  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-ndjson',
      ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}),
    },
  });
  const origins = new Map<number, string>();
  let failure: string | undefined;
  let done: (StreamReport & { complete: boolean }) | undefined;
  /** The request body: line N is input document N, handed over in batches of whole lines. */
  async function* body(): AsyncGenerator<string> {
    const seen = new Set<string>();
    let batch: string[] = [];
    let batchChars = 0;
    let line = 0;
    for await (const sourced of readDocuments(source, options.chunking, 'float32')) {
      line++;
      if (line < options.resumeFromLine) continue;
      // The server reads no further after an error; the connection closes with its answer.
      if (failure || request.destroyed) return;
      summary.documents++;
      // Read once as float32: the same values are the run's key and the line's base64.
      const { vector } = sourced;
      const key = runKey(sourced.document, vector);
      let text = '\n';
      if (seen.has(key)) summary.duplicates++;
      else {
        seen.add(key);
        text = ndjsonLine(sourced.document, vector);
        summary.sent++;
        origins.set(line, sourced.origin);
      }
      batch.push(text);
      batchChars += text.length;
      if (batchChars >= WRITE_BATCH_CHARS) {
        yield batch.join('');
        batch = [];
        batchChars = 0;
      }
    }
    if (batch.length > 0) yield batch.join('');
  }
  const onAnswer = (answer: AnswerLine) => {
    if (answer.committed) {
      const { throughLine, inserted, updated, unchanged } = answer.committed;
      summary.inserted += inserted;
      summary.updated += updated;
      summary.unchanged += unchanged;
      summary.batches++;
      summary.stream.throughLine = throughLine;
      for (const line of origins.keys()) if (line <= throughLine) origins.delete(line);
      progress.update(throughLine);
    }
    if (answer.error) {
      const { line, message } = answer.error;
      const origin = line === undefined ? undefined : origins.get(line);
      failure = origin ? `${message} (${origin})` : message;
    }
    if (answer.done) done = answer.done;
  };

  try {
    // The server answers its headers (or a refusal: key, collection) before it reads the body.
    request.flushHeaders();
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
    const answered = readAnswerLines(response, onAnswer);
    if (response.statusCode === 200) {
      // Streamed with the socket's back-pressure: lines are read only as fast as the server takes them.
      const sending = pipeline(Readable.from(body()), request);
      // A server that stops reading (an error line, then closing) fails the upload: its answer says why.
      const [sent] = await Promise.allSettled([sending, answered]);
      if (sent.status === 'rejected' && !done) throw sent.reason;
    }
    await answered;
  } catch (error) {
    request.destroy();
    failure ??= error instanceof Error ? error.message : String(error);
  }
  summary.seconds = (performance.now() - started) / 1000;
  if (done) Object.assign(summary.stream, { index: done.index, ms: done.ms });
  if (failure || !done?.complete) {
    const stored = summary.stream.throughLine;
    throw new IngestFailed(
      `${failure ?? 'the server did not finish the load'}; documents through ${stored} are stored: run again with --resume-from-line ${stored + 1}`,
      summary,
      { cause: failure },
    );
  }
  return summary;
}
