import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  openIngestStream,
  streamErrorOf,
  type Context,
  type IngestResult,
  type IngestStream,
  type StreamError,
} from '@quarry/api';
import {
  BASE64_VECTOR_FORM,
  base64VectorBytes,
  decodeBase64VectorInto,
} from '@quarry/api/vector-base64';

/**
 * `POST /api/collections/:name/ingest`, body `application/x-ndjson`: one document per line, with
 * the fields of a `documents.ingest` item; `embedding` may also be a base64 string of little-endian
 * float32 (OpenAI's `encoding_format: "base64"`). The body is read as a stream and committed in
 * chunks of `chunk` documents (default and most: the server's ingest batch limit; in bytes, its
 * payload limit or STREAM_CHUNK_BYTES if larger), each one transaction, while the next is read and
 * parsed. The response is NDJSON too:
 *
 *   {"committed":{"throughLine":1000,"documents":1000,"inserted":..,"updated":..,"unchanged":..}}
 *   {"error":{"line":2345,"field":"embedding","message":..,"quarryCode":..,"status":400}}
 *   {"done":{"throughLine":..,"inserted":..,"index":{"action":..,"ms":..},"ms":{..},..}}
 *
 * Everything up to the last `committed` line is stored; nothing after it is. A client cut off
 * resends from the line after it, with `firstLine` set to that line's number so the numbers in the
 * answer are its input's. A bad line, or a chunk the database refuses, ends the load with an
 * `error` line; its chunk is not written.
 *
 * Query parameters: `tenant`, `chunk` (documents per chunk), `firstLine` (the number of the body's
 * first line, default 1), `expected` (documents the client means to send: the server defers the
 * collection's index build to the end of the load when the collection holds no more than that).
 */
export const NDJSON_INGEST_PATH = /^\/api\/collections\/([^/]+)\/ingest$/;

export interface NdjsonIngestOptions {
  /** The tRPC context factory: the same API keys, scopes and tenants as every procedure. */
  createContext(request: { headers: Headers; requestId: string }): Context;
  requestId: string;
  /** The longest line (QUARRY_MAX_BODY_BYTES: no one document may be larger than a request). */
  maxLineBytes: number;
  /** How long the body may go without a byte while the server waits for it (QUARRY_BODY_TIMEOUT_MS). */
  idleTimeoutMs: number;
}

/** What `handleNdjsonIngest` observed, for the request log. */
export interface NdjsonIngestRecord {
  principal?: string;
  requestBytes?: number;
  lines?: number;
  error?: { line?: number; quarryCode?: string };
}

type Line = { number: number; text: Buffer };

/** The planned size of a load that did not say (`expected`). */
const UNKNOWN_LOAD_ROWS = 1_000;

/** Lines parsed between two turns of the event loop (so the chunk being committed makes progress). */
const YIELD_EVERY_LINES = 32;

/** Bytes a parsed chunk is counted as, the way `documents.ingest` sizes a batch. */
function itemBytes(line: Buffer, dimensions: number): number {
  return line.length + dimensions * 8;
}

class LineError extends Error {
  constructor(
    readonly line: number,
    readonly detail: StreamError,
  ) {
    super(detail.message);
  }
}

class StreamStop extends Error {
  constructor(readonly detail: StreamError) {
    super(detail.message);
  }
}

/**
 * Splits the body into lines, pulling from the request only when asked: while the consumer waits
 * for the database, nothing more is read and TCP holds the sender back. A line longer than
 * `maxLineBytes`, or a body that stops arriving for `idleTimeoutMs`, ends the stream.
 */
export async function* readLines(
  body: AsyncIterable<Buffer>,
  options: { maxLineBytes: number; idleTimeoutMs: number; firstLine: number },
  counted: { bytes: number },
): AsyncGenerator<Line> {
  const iterator = body[Symbol.asyncIterator]();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = options.firstLine;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<'idle'>((resolve) => {
      timer = setTimeout(() => resolve('idle'), options.idleTimeoutMs);
    });
    const next = await Promise.race([iterator.next(), idle]).finally(() => clearTimeout(timer));
    if (next === 'idle') {
      await iterator.return?.();
      throw new StreamStop({
        status: 408,
        quarryCode: 'REQUEST_TIMEOUT',
        message: `no data arrived for ${options.idleTimeoutMs} ms (QUARRY_BODY_TIMEOUT_MS); what was committed is stored, resume after it`,
      });
    }
    if (next.done) break;
    let chunk = next.value;
    counted.bytes += chunk.length;
    for (let newline = chunk.indexOf(10); newline >= 0; newline = chunk.indexOf(10)) {
      const head = chunk.subarray(0, newline);
      const text = pending.length > 0 ? Buffer.concat([...pending, head]) : head;
      pending = [];
      pendingBytes = 0;
      chunk = chunk.subarray(newline + 1);
      if (text.length > options.maxLineBytes) throw tooLong(number, options.maxLineBytes);
      yield { number: number++, text };
    }
    if (chunk.length > 0) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes > options.maxLineBytes) throw tooLong(number, options.maxLineBytes);
    }
  }
  if (pendingBytes > 0) yield { number, text: Buffer.concat(pending) };
}

function tooLong(line: number, maxLineBytes: number): LineError {
  return new LineError(line, {
    status: 413,
    quarryCode: 'PAYLOAD_TOO_LARGE',
    message: `line ${line} is longer than ${maxLineBytes} bytes (QUARRY_MAX_BODY_BYTES)`,
  });
}

/**
 * Decoded vectors lie side by side in slabs of this size: one allocation (and one external buffer
 * for the garbage collector to track) per about 170 vectors of 1,536 dimensions instead of one each.
 * A slab is freed when no vector in it is held any more (its chunk is written).
 */
const VECTOR_SLAB_BYTES = 1 << 20;
let slab = Buffer.allocUnsafeSlow(0);
let slabUsed = 0;

/**
 * A base64 string of little-endian float32 components (../vector-base64), decoded into a slab at an
 * aligned offset: the bytes are the components, float32 all the way to the COPY, never a number each.
 */
export function decodeBase64Vector(text: string): Float32Array {
  const bytes = base64VectorBytes(text);
  if (bytes !== undefined) {
    const target = slabWithRoom(bytes);
    const decoded = decodeBase64VectorInto(text, bytes, target, slabUsed);
    if (decoded) {
      slabUsed += bytes;
      return decoded;
    }
  }
  throw new StreamStop({
    status: 400,
    quarryCode: 'INVALID_VECTOR',
    field: 'embedding',
    message: `embedding: a string embedding must be ${BASE64_VECTOR_FORM}`,
  });
}

/** The current slab, or a new one when it has no room for `bytes` more. */
function slabWithRoom(bytes: number): Buffer {
  if (bytes > slab.length - slabUsed) {
    slab = Buffer.allocUnsafeSlow(Math.max(VECTOR_SLAB_BYTES, bytes));
    slabUsed = 0;
  }
  return slab;
}

const EMBEDDING_STRING_KEY = Buffer.from('"embedding":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Whether `text[at]` begins a key of the top-level object (not nested, not inside a string). */
function atTopLevelKey(text: Buffer, at: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < at; i++) {
    const byte = text[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth--;
  }
  return depth === 1 && !inString;
}

const isSpace = (byte: number | undefined) =>
  byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

/**
 * Whether the pair at `key` (its value's closing quote at `end`) opens the line's object (only `{`
 * before it) or closes it (only `}` after it): the line's top-level object then, without scanning
 * the content before it. Either way it is taken only if what is left once it is cut out parses as
 * an object, which it cannot when the `{` or `}` is not the top level's.
 */
function firstOrLastMember(text: Buffer, key: number, end: number): boolean {
  let before = key;
  while (isSpace(text[before - 1])) before--;
  if (text[before - 1] === OPEN_BRACE) {
    let first = before - 1;
    while (isSpace(text[first - 1])) first--;
    if (first === 0) return true;
  }
  let after = end + 1;
  while (isSpace(text[after])) after++;
  if (text[after] !== CLOSE_BRACE) return false;
  after++;
  while (isSpace(text[after])) after++;
  return after === text.length;
}

/**
 * A line whose top-level `embedding` is a base64 string (what the CLI and OpenAI's base64 encoding
 * send): the vector is decoded from the line's bytes and only the other fields (a few hundred
 * bytes) go through JSON.parse, instead of decoding 8 KB of text into a string, scanning it, and
 * copying it out again. Whatever this does not take as it is (an escape in the string, the key
 * twice, bad JSON or base64) is left to the ordinary reading, so values and refusals stay its.
 */
export function parseBase64Line(text: Buffer): Record<string, unknown> | undefined {
  let key = text.indexOf(EMBEDDING_STRING_KEY);
  let end = -1;
  for (; key >= 0; key = text.indexOf(EMBEDDING_STRING_KEY, key + 1)) {
    end = text.indexOf(QUOTE, key + EMBEDDING_STRING_KEY.length);
    if (end < 0) return undefined;
    if (firstOrLastMember(text, key, end) || atTopLevelKey(text, key)) break;
  }
  if (key < 0) return undefined;
  const start = key + EMBEDDING_STRING_KEY.length;
  // The pair is cut out with the comma that separated it from a neighbour: `{"a":1}` is left of
  // `{"a":1,"embedding":".."}` and of `{"embedding":"..","a":1}`, and no other shape is taken.
  let before = key;
  while (isSpace(text[before - 1])) before--;
  let after = end + 1;
  while (isSpace(text[after])) after++;
  const previous = text[before - 1];
  const next = text[after];
  if (previous === COMMA && (next === COMMA || next === CLOSE_BRACE)) {
    before--;
    let earlier = before;
    while (isSpace(text[earlier - 1])) earlier--;
    if (text[earlier - 1] === OPEN_BRACE || text[earlier - 1] === COMMA) return undefined;
  } else if (previous === OPEN_BRACE && next === COMMA) {
    after++;
    let later = after;
    while (isSpace(text[later])) later++;
    if (text[later] === CLOSE_BRACE || text[later] === COMMA) return undefined;
  } else if (!(previous === OPEN_BRACE && next === CLOSE_BRACE)) return undefined;
  let fields: unknown;
  let embedding: Float32Array;
  try {
    fields = JSON.parse(text.toString('utf8', 0, before) + text.toString('utf8', after));
    embedding = decodeBase64Vector(text.toString('latin1', start, end));
  } catch {
    return undefined;
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return undefined;
  const object = fields as Record<string, unknown>;
  // JSON.parse keeps the last of repeated keys: the ordinary reading decides which that is.
  if (Object.hasOwn(object, 'embedding')) return undefined;
  object.embedding = embedding;
  return object;
}

function parseLine(stream: IngestStream, line: Line) {
  if (!isUtf8(line.text)) {
    throw new LineError(line.number, {
      status: 400,
      quarryCode: 'INVALID_INPUT',
      message: 'the line is not valid UTF-8',
    });
  }
  try {
    const fast = parseBase64Line(line.text);
    if (fast) return stream.parse(fast);
    const value: unknown = JSON.parse(line.text.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const fields = value as Record<string, unknown>;
      if (typeof fields.embedding === 'string')
        fields.embedding = decodeBase64Vector(fields.embedding);
    }
    return stream.parse(value);
  } catch (error) {
    const detail =
      error instanceof StreamStop
        ? error.detail
        : error instanceof SyntaxError
          ? {
              status: 400,
              quarryCode: 'INVALID_INPUT' as const,
              message: `not JSON: ${error.message}`,
            }
          : streamErrorOf(error);
    throw new LineError(line.number, detail);
  }
}

interface Chunk {
  items: ReturnType<IngestStream['parse']>[];
  /** The input line of each item. */
  lines: number[];
  throughLine: number;
  bytes: number;
}

/** "documents[3]" in a chunk's error means the chunk's fourth document: its line says more. */
function inLines(message: string, lines: readonly number[]): string {
  return message.replace(/documents\[(\d+)\]/g, (whole, index: string) => {
    const line = lines[Number(index)];
    return line === undefined ? whole : `line ${line}`;
  });
}

function positiveInteger(text: string | null, fallback: number, name: string): number {
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new StreamStop({
      status: 400,
      quarryCode: 'INVALID_INPUT',
      field: name,
      message: `${name} must be a whole number of at least 1, got '${text}'`,
    });
  }
  return value;
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    for (const value of values ?? []) headers.append(name, value);
  }
  return headers;
}

const round = (ms: number) => Math.round(ms);

export async function handleNdjsonIngest(
  req: IncomingMessage,
  res: ServerResponse,
  options: NdjsonIngestOptions,
  record: NdjsonIngestRecord = {},
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://quarry.local');
  const name = decodeURIComponent(NDJSON_INGEST_PATH.exec(url.pathname)?.[1] ?? '');
  const write = (value: unknown) => res.write(`${JSON.stringify(value)}\n`);
  // Before the first line of the answer, an error has its own status; afterwards, it is a line.
  const refuse = (detail: StreamError) => {
    const text = `${JSON.stringify({ error: detail })}\n`;
    res.writeHead(detail.status, {
      'content-type': 'application/x-ndjson',
      'content-length': Buffer.byteLength(text),
      connection: 'close',
    });
    // The unread body is not wanted: the connection goes with the answer.
    res.end(text, () => req.destroy());
  };

  const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/x-ndjson') {
    refuse({
      status: 415,
      quarryCode: 'INVALID_INPUT',
      message: `send the documents as application/x-ndjson (one JSON document per line), not '${contentType || 'no content type'}'`,
    });
    return;
  }

  let stream: IngestStream;
  let chunkSize: number;
  let firstLine: number;
  let expected: number | undefined;
  try {
    const ctx = options.createContext({ headers: headersOf(req), requestId: options.requestId });
    record.principal = ctx.principal?.name;
    stream = await openIngestStream(ctx, {
      collection: name,
      tenant: url.searchParams.get('tenant') ?? undefined,
    });
    chunkSize = Math.min(
      positiveInteger(url.searchParams.get('chunk'), stream.maxChunkDocuments, 'chunk'),
      stream.maxChunkDocuments,
    );
    firstLine = positiveInteger(url.searchParams.get('firstLine'), 1, 'firstLine');
    const expectedText = url.searchParams.get('expected');
    expected = expectedText === null ? undefined : positiveInteger(expectedText, 1, 'expected');
  } catch (error) {
    const detail = error instanceof StreamStop ? error.detail : streamErrorOf(error);
    record.error = { ...(detail.quarryCode ? { quarryCode: detail.quarryCode } : {}) };
    refuse(detail);
    return;
  }

  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-store',
    // Proxies that buffer responses (nginx) would hold the progress lines back.
    'x-accel-buffering': 'no',
    connection: 'close',
  });
  res.flushHeaders();

  const aborted = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) aborted.abort();
  });
  const counted = { bytes: 0 };
  const totals = { documents: 0, inserted: 0, updated: 0, unchanged: 0, chunks: 0 };
  let throughLine = firstLine - 1;
  const started = performance.now();

  /** Writes `chunk` and reports it, after `previous` (the chunk before it) is reported. */
  const commit = async (chunk: Chunk, previous: Promise<void> | undefined): Promise<void> => {
    let result: IngestResult;
    try {
      result = await stream.write(chunk.items, aborted.signal);
    } catch (error) {
      // Rolled back because the chunk before failed: that failure is the one to report.
      await previous;
      const detail = streamErrorOf(error);
      throw new StreamStop({ ...detail, message: inLines(detail.message, chunk.lines) });
    }
    await previous;
    totals.documents += chunk.items.length;
    totals.inserted += result.inserted;
    totals.updated += result.updated;
    totals.unchanged += result.unchanged;
    totals.chunks++;
    throughLine = chunk.throughLine;
    write({
      committed: {
        throughLine,
        documents: chunk.items.length,
        inserted: result.inserted,
        updated: result.updated,
        unchanged: result.unchanged,
      },
    });
  };

  let failure: { line?: number; firstLine?: number; detail: StreamError } | undefined;
  // Of a load of unknown size, the index is deferred only while the collection is small (as for a
  // load of 1,000): rebuilding a small collection's index costs little whatever the load brings.
  const { index } = await stream.load(expected ?? UNKNOWN_LOAD_ROWS, async () => {
    // The chunk written before `inFlight`: it may still be committing.
    let committing: Promise<void> | undefined;
    let inFlight: Promise<void> | undefined;
    let chunk: Chunk = { items: [], lines: [], throughLine, bytes: 0 };
    // A chunk is written while the one before it commits and the next is read and parsed; never
    // more than these three are held.
    const flush = async () => {
      await committing;
      if (chunk.items.length === 0) return;
      const full = chunk;
      chunk = { items: [], lines: [], throughLine: full.throughLine, bytes: 0 };
      committing = inFlight;
      inFlight = commit(full, committing);
      // A failure is awaited (and reported) at a later flush or the end.
      inFlight.catch(() => {});
    };
    try {
      for await (const line of readLines(
        req,
        { maxLineBytes: options.maxLineBytes, idleTimeoutMs: options.idleTimeoutMs, firstLine },
        counted,
      )) {
        chunk.throughLine = line.number;
        if (line.text.length === 0 || (line.text.length === 1 && line.text[0] === 13)) continue;
        const text = line.text.at(-1) === 13 ? line.text.subarray(0, -1) : line.text;
        chunk.items.push(parseLine(stream, { number: line.number, text }));
        chunk.lines.push(line.number);
        chunk.bytes += itemBytes(text, stream.collection.dimensions);
        if (chunk.items.length >= chunkSize || chunk.bytes >= stream.maxChunkBytes) await flush();
        // Buffered lines parse without leaving the microtask queue: the database's answers to the
        // chunk being committed would wait until the whole next chunk is parsed.
        else if (chunk.items.length % YIELD_EVERY_LINES === 0) await new Promise(setImmediate);
      }
      if (aborted.signal.aborted) return;
      await flush();
      await inFlight;
      // Blank lines at the end are read too.
      throughLine = chunk.throughLine;
    } catch (error) {
      // The chunks being written are reported first, whatever happened while reading (a later
      // chunk's failure is the earlier one's when that one failed).
      const earlier = (await Promise.allSettled([committing, inFlight])).find(
        (settled) => settled.status === 'rejected',
      );
      const cause: unknown = earlier?.status === 'rejected' ? earlier.reason : error;
      if (cause instanceof LineError) failure = { line: cause.line, detail: cause.detail };
      else if (cause instanceof StreamStop)
        failure = { firstLine: throughLine + 1, detail: cause.detail };
      // The client went away mid-body: what is committed stays, the rest is dropped.
      else if (!req.complete) aborted.abort();
      else throw cause;
    }
  });

  record.requestBytes = counted.bytes;
  record.lines = throughLine - firstLine + 1;
  if (aborted.signal.aborted) return;
  const loadMs = performance.now() - started - index.ms;
  if (failure) {
    record.error = {
      ...(failure.line ? { line: failure.line } : {}),
      ...(failure.detail.quarryCode ? { quarryCode: failure.detail.quarryCode } : {}),
    };
    write({
      error: {
        ...(failure.line === undefined ? { firstLine: failure.firstLine } : { line: failure.line }),
        ...failure.detail,
        message: `${failure.line === undefined ? '' : `line ${failure.line}: `}${failure.detail.message}; lines through ${throughLine} are stored, nothing after them`,
      },
    });
  }
  write({
    done: {
      complete: failure === undefined,
      throughLine,
      ...totals,
      index,
      ms: {
        load: round(loadMs),
        index: round(index.ms),
        untilSearchable: round(loadMs + index.ms),
      },
      documentsPerSecond: loadMs > 0 ? Math.round((totals.documents / loadMs) * 1000) : 0,
    },
  });
  res.end(() => {
    if (!req.complete) req.destroy();
  });
}
