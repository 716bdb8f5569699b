import { endianness } from 'node:os';

/**
 * Vectors as base64 text of little-endian float32 components: what OpenAI returns with
 * `encoding_format: "base64"`, what the CLI sends the streaming ingest, and what both accept in an
 * input line. One reading for the server and the CLI.
 */

const LITTLE_ENDIAN = endianness() === 'LE';

/** How a refusal describes the form. */
export const BASE64_VECTOR_FORM =
  'base64 of little-endian float32 components (a multiple of 4 bytes)';

/** The bytes `text` decodes to when its length and padding are those of a base64 vector. */
export function base64VectorBytes(text: string): number | undefined {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = (text.length / 4) * 3 - padding;
  return text.length % 4 === 0 && bytes % 4 === 0 && bytes > 0 ? bytes : undefined;
}

/**
 * Decodes `text` (of `bytes`, base64VectorBytes) into `target` at `offset` (a multiple of 4 from
 * its ArrayBuffer's start) and returns the components there, or undefined when it is not base64.
 * Node's decoder skips characters outside the alphabet, so a well-formed text is one that decodes
 * to exactly `bytes` (no pattern is run over the 8 KB of a 1,536-dimension vector).
 */
export function decodeBase64VectorInto(
  text: string,
  bytes: number,
  target: Buffer,
  offset: number,
): Float32Array | undefined {
  if (target.write(text, offset, bytes, 'base64') !== bytes) return undefined;
  const decoded = target.subarray(offset, offset + bytes);
  if (!LITTLE_ENDIAN) decoded.swap32();
  return new Float32Array(decoded.buffer, decoded.byteOffset, bytes / 4);
}

/** `text` decoded into a buffer of its own, or undefined when it is not a base64 vector. */
export function decodeBase64Vector(text: string): Float32Array | undefined {
  const bytes = base64VectorBytes(text);
  return bytes === undefined
    ? undefined
    : decodeBase64VectorInto(text, bytes, Buffer.allocUnsafeSlow(bytes), 0);
}

/** `vector` as base64 of its little-endian float32 components (what pgvector stores). */
export function encodeBase64Vector(vector: ArrayLike<number>): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let index = 0; index < vector.length; index++) {
    bytes.writeFloatLE(vector[index]!, index * 4);
  }
  return bytes.toString('base64');
}
