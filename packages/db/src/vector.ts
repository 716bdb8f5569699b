import { Placeholder, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { QuarryError } from './errors';
import { documents, type Collection, type DistanceMetric } from './schema';

/** pgvector's HNSW limits: `vector` indexes up to 2,000 dimensions, `halfvec` up to 4,000. */
export const MAX_VECTOR_INDEX_DIMENSIONS = 2000;
export const MAX_HALFVEC_INDEX_DIMENSIONS = 4000;
/** The largest magnitude half precision holds; a `halfvec` cast of anything larger is an error. */
export const MAX_HALFVEC_COMPONENT = 65504;

export type IndexedVectorType = 'vector' | 'halfvec';
export type VectorShape = Pick<Collection, 'name' | 'dimensions'> &
  Partial<Pick<Collection, 'metric'>>;

/**
 * The type a collection's vectors are indexed and searched as. Collections above 2,000 dimensions
 * (e.g. 3,072 for text-embedding-3-large) go through `halfvec`; above 4,000 no HNSW index can serve
 * them, so such a collection is refused when it is created.
 */
export function indexedVectorType(dimensions: number): IndexedVectorType {
  if (!Number.isSafeInteger(dimensions) || dimensions < 1) {
    throw new QuarryError(
      'INVALID_INPUT',
      `dimensions must be a positive integer, got ${dimensions}`,
    );
  }
  if (dimensions <= MAX_VECTOR_INDEX_DIMENSIONS) return 'vector';
  if (dimensions <= MAX_HALFVEC_INDEX_DIMENSIONS) return 'halfvec';
  throw new QuarryError(
    'DIMENSIONS_UNSUPPORTED',
    `${dimensions} dimensions cannot be indexed: pgvector's HNSW index supports up to ` +
      `${MAX_VECTOR_INDEX_DIMENSIONS} dimensions as vector and ${MAX_HALFVEC_INDEX_DIMENSIONS} as halfvec. ` +
      'Use a model with fewer dimensions or reduce them (e.g. the "dimensions" option of text-embedding-3 models).',
  );
}

/** Half precision rounds magnitudes up to 2^-25 to zero (its smallest subnormal is 2^-24). */
const HALFVEC_ZERO_BELOW = 2 ** -25;

/**
 * A vector as the edge holds it: numbers parsed from JSON, or float32 components as they arrived
 * (base64 little-endian float32, decoded without a pass through numbers).
 */
export type VectorInput = readonly number[] | Float32Array;

/**
 * Whether pgvector sees a zero vector, for which cosine distance is NaN (similarity null): its
 * float32 squared norm, summed in float32 as pgvector does, underflows to 0, or, indexed as
 * halfvec, every component rounds to zero.
 */
function isZeroAsStored(vector: VectorInput, halfPrecision: boolean): boolean {
  // A sum of float32 squares is zero exactly when each square underflows to zero.
  let squaresUnderflow = true;
  let halfZero = halfPrecision;
  for (let i = 0; i < vector.length && (squaresUnderflow || halfZero); i++) {
    const component = vector[i] ?? 0;
    const stored = Math.fround(component);
    if (Math.fround(stored * stored) !== 0) squaresUnderflow = false;
    if (Math.abs(component) > HALFVEC_ZERO_BELOW) halfZero = false;
  }
  return squaresUnderflow || halfZero;
}

/**
 * Refuses a vector that cannot belong to the collection, before any SQL: the message names the
 * collection, the expected and the actual dimension, or the first bad component.
 */
export function assertVectorFits(
  collection: VectorShape,
  vector: VectorInput,
  label = 'vector',
): void {
  if (vector.length === 0) {
    throw new QuarryError(
      'INVALID_VECTOR',
      `${label} for collection '${collection.name}' is empty; expected ${collection.dimensions} dimensions`,
    );
  }
  if (vector.length !== collection.dimensions) {
    throw new QuarryError(
      'DIMENSION_MISMATCH',
      `collection '${collection.name}' expects ${collection.dimensions} dimensions, got ${vector.length} (${label})`,
    );
  }
  const halfPrecision = collection.dimensions > MAX_VECTOR_INDEX_DIMENSIONS;
  // The limit a component's magnitude must stay within (NaN fails every comparison with it).
  const limit = halfPrecision ? MAX_HALFVEC_COMPONENT : FLOAT32_MAX;
  // One pass over the components; the one at fault, if any, is then described.
  let i = 0;
  if (vector instanceof Float32Array && !halfPrecision && allFinite(vector)) {
    // Every finite float32 is within range: nothing to describe.
    i = vector.length;
  } else if (vector instanceof Float32Array) {
    while (i < vector.length && Math.abs(vector[i] ?? NaN) <= limit) i++;
  } else {
    for (; i < vector.length; i++) {
      const component = vector[i];
      if (typeof component !== 'number' || !(Math.abs(component) <= limit)) break;
    }
  }
  if (i < vector.length) refuseComponent(collection, vector[i], i, label);
  if (collection.metric === 'cosine' && isZeroAsStored(vector, halfPrecision)) {
    throw new QuarryError(
      'INVALID_VECTOR',
      `collection '${collection.name}' uses cosine distance, which is undefined for a zero vector (${label})`,
    );
  }
}

/**
 * Whether no component is NaN or ±Infinity, in one pass without a branch per component. Four sums,
 * so that each addition need not wait for the one before it (twice as fast at 1,536 dimensions).
 */
function allFinite(components: Float32Array): boolean {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const whole = components.length - (components.length % 4);
  let i = 0;
  // x * 0 is 0 for every finite x, NaN for NaN and ±Infinity; NaN then stays.
  for (; i < whole; i += 4) {
    a += (components[i] as number) * 0;
    b += (components[i + 1] as number) * 0;
    c += (components[i + 2] as number) * 0;
    d += (components[i + 3] as number) * 0;
  }
  for (; i < components.length; i++) a += (components[i] as number) * 0;
  return a + b + c + d === 0;
}

/** The largest finite float32, which pgvector stores: larger magnitudes would overflow to Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

function refuseComponent(
  collection: VectorShape,
  component: unknown,
  i: number,
  label: string,
): never {
  if (typeof component !== 'number' || !Number.isFinite(component)) {
    throw new QuarryError(
      'INVALID_VECTOR',
      `${label} for collection '${collection.name}' has a non-finite component at index ${i} (${String(component)}); every component must be a finite number`,
    );
  }
  if (Math.abs(component) > FLOAT32_MAX) {
    throw new QuarryError(
      'INVALID_VECTOR',
      `${label} for collection '${collection.name}' has component ${component} at index ${i}, outside the float32 range pgvector stores`,
    );
  }
  // Collections over 2,000 dimensions are indexed (and searched) as halfvec.
  throw new QuarryError(
    'INVALID_VECTOR',
    `${label} for collection '${collection.name}' has component ${component} at index ${i}; its ${collection.dimensions} dimensions are indexed as halfvec, which holds magnitudes up to ${MAX_HALFVEC_COMPONENT}`,
  );
}

function dimensionsLiteral(dimensions: number): SQL {
  // Dimensions come from a validated collection row, never from request text; typmods cannot be
  // bound parameters, and the index expression must match the query expression literally.
  if (!Number.isSafeInteger(dimensions) || dimensions < 1)
    throw new Error(`bad dimensions ${dimensions}`);
  return sql.raw(String(dimensions));
}

/**
 * The indexed expression for a collection: `embedding::vector(D)` or `embedding::halfvec(D)`.
 * `column` is the qualified `documents.embedding` in queries; an index statement on a partition
 * passes the bare column name.
 */
export function indexedEmbedding(
  collection: Pick<Collection, 'dimensions'>,
  column: SQLWrapper = documents.embedding,
): SQL {
  const type = indexedVectorType(collection.dimensions);
  return type === 'vector'
    ? sql`(${column}::vector(${dimensionsLiteral(collection.dimensions)}))`
    : sql`(${column}::halfvec(${dimensionsLiteral(collection.dimensions)}))`;
}

/** pgvector's distance operator of each metric (the one its HNSW operator class serves). */
const distanceOperators: Record<DistanceMetric, SQL> = {
  cosine: sql.raw('<=>'),
  l2: sql.raw('<->'),
  inner_product: sql.raw('<#>'),
};

/**
 * Distance from the query vector, written so the collection's HNSW index can serve
 * `ORDER BY distance ASC LIMIT k`. `exact` uses the full-precision stored column instead of the
 * indexed expression, which no index matches: a sequential scan, the ground truth.
 */
export function distanceTo(
  collection: Pick<Collection, 'dimensions' | 'metric'>,
  query: VectorInput | Placeholder,
  options: { exact?: boolean } = {},
): SQL {
  const operand = options.exact ? sql`${documents.embedding}` : indexedEmbedding(collection);
  // A placeholder stands for a queryVectorParameter given when a statement built once is run.
  const value = query instanceof Placeholder ? query : queryVectorParameter(collection, query);
  return sql`${operand} ${distanceOperators[collection.metric]} ${value}`;
}

/** Powers of ten a float32 component is scaled by (up to 10^53 for the smallest subnormals). */
const POWERS_OF_TEN = Array.from({ length: 56 }, (_, power) => 10 ** power);
const LOG10_2 = Math.log10(2);
const float32View = new Float32Array(1);
const float32Bits = new Uint32Array(float32View.buffer);
let literalBytes = Buffer.allocUnsafe(1 << 15);

/** `value` (in [1e8, 1e9) once scaled) times 10^shift, rounded to an integer. */
function scaled(value: number, shift: number): number {
  return (
    Math.round(shift >= 0 ? value * POWERS_OF_TEN[shift]! : value / POWERS_OF_TEN[-shift]!) | 0
  );
}

/**
 * A query vector as pgvector's text literal (`[0.123456791,-2.5e-7,...]`), each component the
 * float32 pgvector stores written with 9 significant digits (enough for a float32 to read back
 * exactly; trailing zeros dropped). About twice as fast as JSON.stringify of the numbers, which
 * writes each double in up to 17 digits (a 1,536-dimension query: ~30 KB of text for PostgreSQL to
 * parse, here ~19 KB), for the same stored vector.
 */
export function vectorLiteral(vector: VectorInput): string {
  if (literalBytes.length < vector.length * 17 + 2) {
    literalBytes = Buffer.allocUnsafe(vector.length * 17 + 2);
  }
  const out = literalBytes;
  let at = 0;
  out[at++] = 0x5b; // [
  for (let i = 0; i < vector.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ,
    const component = Math.fround(vector[i] ?? NaN);
    if (component === 0) {
      out[at++] = 0x30;
      continue;
    }
    if (!Number.isFinite(component)) throw new Error(`vector component ${component} is not finite`);
    let magnitude = component;
    if (component < 0) {
      out[at++] = 0x2d; // -
      magnitude = -component;
    }
    // The decimal exponent from the binary one (off by at most one, corrected below); the
    // subnormals, whose binary exponent field is 0, by log10.
    float32View[0] = magnitude;
    const binaryExponent = float32Bits[0]! >>> 23;
    const decimalExponent =
      binaryExponent === 0
        ? Math.floor(Math.log10(magnitude))
        : Math.floor((binaryExponent - 127) * LOG10_2);
    // Nine significant digits: mantissa in [1e8, 1e9), value = mantissa * 10^exponent.
    let shift = 8 - decimalExponent;
    let mantissa = scaled(magnitude, shift);
    if (mantissa >= 1e9) mantissa = scaled(magnitude, --shift);
    else if (mantissa < 1e8) mantissa = scaled(magnitude, ++shift);
    let exponent = -shift;
    for (let tenth = (mantissa / 10) | 0; tenth * 10 === mantissa; tenth = (mantissa / 10) | 0) {
      mantissa = tenth;
      exponent++;
    }
    let digits = 1;
    while (digits < 9 && mantissa >= POWERS_OF_TEN[digits]!) digits++;
    const end = at + digits;
    for (let position = end - 1; position >= at; position--) {
      const tenth = (mantissa / 10) | 0;
      out[position] = 0x30 + mantissa - tenth * 10;
      mantissa = tenth;
    }
    at = end;
    if (exponent !== 0) {
      out[at++] = 0x65; // e
      if (exponent < 0) out[at++] = 0x2d;
      const magnitudeOfExponent = Math.abs(exponent);
      if (magnitudeOfExponent >= 10) out[at++] = 0x30 + ((magnitudeOfExponent / 10) | 0);
      out[at++] = 0x30 + (magnitudeOfExponent % 10);
    }
  }
  out[at++] = 0x5d; // ]
  return out.toString('latin1', 0, at);
}

/** Where the patched postgres.js finds a parameter's binary form (patches/postgres@3.4.9.patch). */
const BINARY_FORM = Symbol.for('postgres.binary');

/**
 * A query vector as a statement parameter. postgres.js sends it in pgvector's binary format
 * (vector_recv's: the dimensions, a zero, then each component as a big-endian float4), so the
 * server formats no decimals and PostgreSQL parses none: at 1,536 dimensions `vectorLiteral` took
 * ~0.1 ms here and PostgreSQL's parsing of its text ~0.1 ms, the binary form 16 µs, a third of the
 * bytes. Any other driver (PGlite) sends its text, `toString()`. Components are checked here, so a
 * bad one fails the query before it is sent.
 */
export class VectorParameter {
  readonly [BINARY_FORM]: Uint8Array;
  readonly #vector: VectorInput;

  constructor(vector: VectorInput) {
    const bytes = Buffer.allocUnsafe(4 + vector.length * 4);
    bytes.writeInt16BE(vector.length, 0);
    bytes.writeInt16BE(0, 2);
    for (let index = 0; index < vector.length; index++) {
      const component = Math.fround(vector[index] ?? Number.NaN);
      if (!Number.isFinite(component)) {
        throw new Error(`vector component ${component} is not finite`);
      }
      bytes.writeFloatBE(component, 4 + index * 4);
    }
    this[BINARY_FORM] = bytes;
    this.#vector = vector;
  }

  toString(): string {
    return vectorLiteral(this.#vector);
  }
}

/**
 * The query vector's parameter for a collection: binary where the statement reads it as `vector`,
 * its text where it reads it as `halfvec` (collections over 2,000 dimensions), whose binary form
 * differs.
 */
export function queryVectorParameter(
  collection: Pick<Collection, 'dimensions'>,
  vector: VectorInput,
): VectorParameter | string {
  return indexedVectorType(collection.dimensions) === 'vector'
    ? new VectorParameter(vector)
    : vectorLiteral(vector);
}

/**
 * What "similarity" means per metric (higher is closer):
 * - cosine: 1 − cosine distance, in [−1, 1];
 * - inner_product: the inner product itself (pgvector's `<#>` returns its negative as a distance);
 *   equal to cosine similarity for unit-length vectors;
 * - l2: 1 / (1 + euclidean distance), in (0, 1].
 */
export function similarityFromDistance(metric: DistanceMetric, distance: number): number {
  switch (metric) {
    case 'cosine':
      return 1 - distance;
    case 'inner_product':
      return -distance;
    case 'l2':
      return 1 / (1 + distance);
  }
}

/** The largest distance that still reaches `similarity`; `null` when every distance does. */
export function maxDistanceForSimilarity(
  metric: DistanceMetric,
  similarity: number,
): number | null {
  switch (metric) {
    case 'cosine':
      return 1 - similarity;
    case 'inner_product':
      return -similarity;
    case 'l2':
      return similarity <= 0 ? null : 1 / similarity - 1;
  }
}
