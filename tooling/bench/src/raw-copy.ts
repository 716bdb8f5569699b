/**
 * Baseline B, the practical limit: the same rows streamed by one raw `COPY ... (FORMAT BINARY)`
 * straight into Quarry's documents table through postgres.js. No validation, no dedupe, no ids
 * returned: what the driver and server can do at best.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';

export interface RawRow {
  content: string;
  metadataJson: string;
  externalId: string;
  embedding: Float32Array;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIELDS = 6;

function encodeRow(collectionId: number, tenant: Buffer, row: RawRow): Buffer {
  const content = Buffer.from(row.content, 'utf8');
  const metadata = Buffer.from(row.metadataJson, 'utf8');
  const externalId = Buffer.from(row.externalId, 'utf8');
  const dimensions = row.embedding.length;
  const size =
    2 +
    (4 + 4) +
    (4 + tenant.length) +
    (4 + content.length) +
    (4 + 1 + metadata.length) +
    (4 + externalId.length) +
    (4 + 4 + 4 * dimensions);
  const buffer = Buffer.allocUnsafe(size);
  let offset = buffer.writeInt16BE(FIELDS, 0);
  offset = buffer.writeInt32BE(4, offset);
  offset = buffer.writeInt32BE(collectionId, offset);
  offset = buffer.writeInt32BE(tenant.length, offset);
  offset += tenant.copy(buffer, offset);
  offset = buffer.writeInt32BE(content.length, offset);
  offset += content.copy(buffer, offset);
  offset = buffer.writeInt32BE(metadata.length + 1, offset);
  offset = buffer.writeUInt8(1, offset);
  offset += metadata.copy(buffer, offset);
  offset = buffer.writeInt32BE(externalId.length, offset);
  offset += externalId.copy(buffer, offset);
  offset = buffer.writeInt32BE(4 + 4 * dimensions, offset);
  offset = buffer.writeInt16BE(dimensions, offset);
  offset = buffer.writeInt16BE(0, offset);
  for (let i = 0; i < dimensions; i++) offset = buffer.writeFloatBE(row.embedding[i] ?? 0, offset);
  return buffer;
}

function* copyData(
  collectionId: number,
  tenant: string,
  rows: Iterable<RawRow>,
): Generator<Buffer> {
  yield Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
  const tenantBytes = Buffer.from(tenant, 'utf8');
  let batch: Buffer[] = [];
  for (const row of rows) {
    batch.push(encodeRow(collectionId, tenantBytes, row));
    if (batch.length === 256) {
      yield Buffer.concat(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield Buffer.concat(batch);
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  yield trailer;
}

/**
 * The rows as binary COPY data, in pieces of 256 rows: made before the clock starts, as every
 * system's input is (the streaming ingest's NDJSON body, the CLI's file, the INSERTs' row arrays).
 */
export function encodeCopyData(
  collectionId: number,
  tenant: string,
  rows: Iterable<RawRow>,
): Buffer[] {
  return Array.from(copyData(collectionId, tenant, rows));
}

/** Streams `data` (encodeCopyData) as one COPY inside one transaction; returns the elapsed milliseconds. */
export async function rawBinaryCopy(url: string, data: readonly Buffer[]): Promise<number> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const started = performance.now();
    await client.begin(async (tx) => {
      const stream = await tx
        .unsafe(
          'COPY documents (collection_id, tenant_id, content, metadata, external_id, embedding) FROM STDIN (FORMAT BINARY)',
        )
        .writable();
      await pipeline(Readable.from(data), stream);
    });
    return performance.now() - started;
  } finally {
    await client.end({ timeout: 5 });
  }
}
