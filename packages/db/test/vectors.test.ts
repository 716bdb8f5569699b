import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertVectorFits,
  collections,
  distanceTo,
  documents,
  inCollection,
  QuarryError,
  queryRows,
  sql,
  vectorLiteral,
  VectorParameter,
  type Collection,
} from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import { createCollection, insertDocuments, randomVector, seededRandom } from './helpers';

const FLOAT32_MAX = 3.4028234663852886e38;

/** The error `run` throws, so a test can look at its code and message. */
function thrownBy(run: () => void): QuarryError {
  try {
    run();
  } catch (error) {
    if (error instanceof QuarryError) return error;
    throw error;
  }
  throw new Error('expected a QuarryError, nothing was thrown');
}

/** A vector of the right length with one bad component. */
function withComponent(dimensions: number, index: number, value: number): number[] {
  const vector = randomVector(dimensions, seededRandom(dimensions));
  vector[index] = value;
  return vector;
}

/** The exact bits of each number as JavaScript holds it (a float64), so no rounding hides a difference. */
function bits(vector: readonly number[]): string[] {
  return Array.from(new BigUint64Array(new Float64Array(vector).buffer), (word) =>
    word.toString(16).padStart(16, '0'),
  );
}

describeEachTarget()('vectors on $name', (target) => {
  let database: TestDatabase;
  /** The collection as the driver reads it back, so its types are the ones the edge really sees. */
  let docs: Collection;

  beforeAll(async () => {
    database = await target.createDatabase();
    const created = await createCollection(database.db, { name: 'docs', dimensions: 1536 });
    const [stored] = await database.db
      .select()
      .from(collections)
      .where(eq(collections.id, created.id));
    if (!stored) throw new Error('collection not found after insert');
    docs = stored;
  });
  afterAll(async () => {
    await database.close();
  });

  describe('assertVectorFits', () => {
    it('accepts a vector of the collection dimension', () => {
      expect(() => assertVectorFits(docs, randomVector(1536, seededRandom(1)))).not.toThrow();
    });

    it('refuses a 768-dimension vector for a 1536-dimension collection, naming the collection, expected and actual', () => {
      const error = thrownBy(() => assertVectorFits(docs, randomVector(768, seededRandom(2))));
      expect(error.code).toBe('DIMENSION_MISMATCH');
      expect(error.message).toBe("collection 'docs' expects 1536 dimensions, got 768 (vector)");
    });

    it('refuses a vector one dimension too long', () => {
      const error = thrownBy(() =>
        assertVectorFits(docs, randomVector(1537, seededRandom(3)), 'query vector'),
      );
      expect(error.code).toBe('DIMENSION_MISMATCH');
      expect(error.message).toContain("collection 'docs' expects 1536 dimensions, got 1537");
      expect(error.message).toContain('query vector');
    });

    it('refuses an empty vector and says how many dimensions were expected', () => {
      const error = thrownBy(() => assertVectorFits(docs, []));
      expect(error.code).toBe('INVALID_VECTOR');
      expect(error.message).toContain("collection 'docs'");
      expect(error.message).toContain('empty');
      expect(error.message).toContain('expected 1536 dimensions');
    });

    it('refuses NaN and names its position', () => {
      const error = thrownBy(() => assertVectorFits(docs, withComponent(1536, 17, Number.NaN)));
      expect(error.code).toBe('INVALID_VECTOR');
      expect(error.message).toContain("collection 'docs'");
      expect(error.message).toContain('index 17 (NaN)');
    });

    it.each([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
      'refuses %s and names its position',
      (value) => {
        const error = thrownBy(() => assertVectorFits(docs, withComponent(1536, 1535, value)));
        expect(error.code).toBe('INVALID_VECTOR');
        expect(error.message).toContain("collection 'docs'");
        expect(error.message).toContain(`index 1535 (${String(value)})`);
      },
    );

    it('refuses a component beyond the float32 range pgvector stores', () => {
      const error = thrownBy(() => assertVectorFits(docs, withComponent(1536, 3, -1e39)));
      expect(error.code).toBe('INVALID_VECTOR');
      expect(error.message).toContain("collection 'docs'");
      expect(error.message).toContain('float32');
      expect(error.message).toContain('index 3');
    });

    it('accepts the largest float32 value', () => {
      expect(() => assertVectorFits(docs, withComponent(1536, 0, FLOAT32_MAX))).not.toThrow();
    });

    it('checks float32 components (a decoded base64 vector) by the same rules, naming the position', () => {
      const asFloat32 = (index: number, value: number) =>
        new Float32Array(withComponent(1536, index, value));
      expect(() => assertVectorFits(docs, asFloat32(0, FLOAT32_MAX))).not.toThrow();
      for (const [index, value] of [
        [17, Number.NaN],
        [1535, Number.POSITIVE_INFINITY],
        [0, Number.NEGATIVE_INFINITY],
      ] as const) {
        const error = thrownBy(() => assertVectorFits(docs, asFloat32(index, value)));
        expect(error.code).toBe('INVALID_VECTOR');
        expect(error.message).toContain(`index ${index} (${String(value)})`);
      }
      const wide = { name: 'wide', dimensions: 2001, metric: 'cosine' as const };
      const error = thrownBy(() =>
        assertVectorFits(wide, new Float32Array(withComponent(2001, 5, 70_000))),
      );
      expect(error.message).toContain('index 5; its 2001 dimensions are indexed as halfvec');
      expect(() => assertVectorFits(docs, new Float32Array(1536))).toThrow(/zero vector/);
      // Every position of a length that is not a multiple of four (the check sums in fours).
      const seven = { name: 'seven', dimensions: 7, metric: 'l2' as const };
      for (let index = 0; index < 7; index++) {
        const error = thrownBy(() =>
          assertVectorFits(seven, new Float32Array(withComponent(7, index, Number.NaN))),
        );
        expect(error.message).toContain(`index ${index} (NaN)`);
      }
    });

    it('refuses a vector that is zero as pgvector stores it when the metric is cosine', () => {
      const zero = (dimensions: number, value = 0) => new Array<number>(dimensions).fill(value);
      const cases: Array<[Pick<Collection, 'name' | 'dimensions' | 'metric'>, number[]]> = [
        [docs, zero(1536)],
        // Every square underflows float32, as pgvector sums them.
        [docs, zero(1536, 1e-23)],
        // Indexed as halfvec, where these round to zero.
        [{ name: 'wide', dimensions: 2001, metric: 'cosine' }, zero(2001, 2 ** -26)],
      ];
      for (const [collection, vector] of cases) {
        const error = thrownBy(() => assertVectorFits(collection, vector, 'query vector'));
        expect(error.code).toBe('INVALID_VECTOR');
        expect(error.message).toBe(
          `collection '${collection.name}' uses cosine distance, which is undefined for a zero vector (query vector)`,
        );
      }
      // One component whose float32 square is the smallest normal or so: not zero.
      const almost = zero(1536);
      almost[7] = 1e-19;
      expect(() => assertVectorFits(docs, almost)).not.toThrow();
      for (const metric of ['l2', 'inner_product'] as const)
        expect(() => assertVectorFits({ ...docs, metric }, zero(1536))).not.toThrow();
    });
  });

  describe('storage', () => {
    it('reads back random float32 vectors bit for bit', async () => {
      const small = await createCollection(database.db, { name: 'roundtrip', dimensions: 256 });
      const random = seededRandom(32);
      // Magnitudes from 1e-38 to 1e38, both signs: every value is exactly a float32.
      const written = Array.from({ length: 20 }, () =>
        Array.from({ length: 256 }, () =>
          Math.fround((random() * 2 - 1) * 10 ** Math.floor(random() * 77 - 38)),
        ),
      );
      written.forEach((vector) => expect(vector.every((x) => Math.fround(x) === x)).toBe(true));
      await insertDocuments(
        database.db,
        small,
        written.map((embedding, i) => ({ content: `round trip ${i}`, embedding })),
      );
      const read = await database.db
        .select({ content: documents.content, embedding: documents.embedding })
        .from(documents)
        .where(inCollection(small.id));
      const byContent = new Map(read.map((row) => [row.content, row.embedding]));
      written.forEach((vector, i) => {
        const stored = byContent.get(`round trip ${i}`);
        expect(stored && bits(stored)).toEqual(bits(vector));
      });
    });

    it('reads back the float32 extremes: largest, smallest normal and smallest subnormal values', async () => {
      const extremes = await createCollection(database.db, { name: 'extremes', dimensions: 6 });
      const vector = [
        FLOAT32_MAX,
        -FLOAT32_MAX,
        1.1754943508222875e-38,
        -1.401298464324817e-45,
        Math.fround(1 / 3),
        1,
      ];
      await insertDocuments(database.db, extremes, [{ content: 'extremes', embedding: vector }]);
      const [row] = await database.db
        .select({ embedding: documents.embedding })
        .from(documents)
        .where(inCollection(extremes.id));
      expect(row?.embedding && bits(row.embedding)).toEqual(bits(vector));
    });
  });

  describe('bound parameters', () => {
    it('sends an inserted vector as a parameter, never in the SQL text', () => {
      const vector = randomVector(1536, seededRandom(5));
      const query = database.db
        .insert(documents)
        .values({ content: 'parameterized', collectionId: docs.id, embedding: vector })
        .toSQL();
      expect(query.params).toContain(JSON.stringify(vector));
      expect(query.sql).not.toContain(String(vector[0]));
      expect(query.sql).toMatch(/\$\d+/);
    });

    it('sends a query vector as a parameter, never in the SQL text', () => {
      const vector = randomVector(1536, seededRandom(6));
      const query = database.db
        .select({ id: documents.id })
        .from(documents)
        .where(inCollection(docs.id))
        .orderBy(distanceTo(docs, vector))
        .limit(5)
        .toSQL();
      expect(query.params.map(String)).toContain(vectorLiteral(vector));
      expect(query.sql).not.toContain(String(vector[0]));
    });

    it('sends a query vector in binary through postgres.js and as its text through PGlite, the same vector either way', async () => {
      const random = seededRandom(8);
      const vector = [
        ...randomVector(1530, random),
        FLOAT32_MAX,
        -FLOAT32_MAX,
        -1.401298464324817e-45,
        0,
        -0,
        0.1,
      ];
      let sentAsText = false;
      class Watched extends VectorParameter {
        override toString(): string {
          sentAsText = true;
          return super.toString();
        }
      }
      const [row] = await queryRows<{ same: boolean; dimensions: number }>(
        database.db,
        sql`select (${new Watched(vector)}::vector = ${vectorLiteral(vector)}::vector) as same,
          vector_dims(${new Watched(vector)}::vector) as dimensions`,
      );
      expect(row).toEqual({ same: true, dimensions: vector.length });
      expect(sentAsText).toBe(database.driver !== 'postgres');
      expect(() => new VectorParameter([1, 1e39])).toThrow(/not finite/);
    });

    it('writes a query vector pgvector reads as the vector its JSON text makes, component for component', async () => {
      const random = seededRandom(7);
      // Doubles as JSON carries them, float32 values across the whole range, and the extremes.
      const vector = [
        ...randomVector(1024, random),
        ...Array.from({ length: 500 }, () =>
          Math.fround((random() * 2 - 1) * 10 ** Math.floor(random() * 77 - 38)),
        ),
        FLOAT32_MAX,
        -FLOAT32_MAX,
        1.1754943508222875e-38,
        -1.401298464324817e-45,
        1e-40,
        0,
        -0,
        1,
        -0.5,
        0.1,
        123456789,
        1e9,
      ];
      const literal = vectorLiteral(vector);
      expect(literal).toMatch(/^\[-?\d+(e-?\d+)?(,-?\d+(e-?\d+)?)*\]$/);
      const [row] = await queryRows<{ same: boolean; components: number[] }>(
        database.db,
        sql`select (${literal}::vector = ${JSON.stringify(vector)}::vector) as same, ${literal}::vector::real[] as components`,
      );
      expect(row?.same).toBe(true);
      expect(row?.components.map((x) => Math.fround(Number(x)))).toEqual(
        vector.map((x) => Math.fround(x) + 0),
      );
    });

    it('refuses to write a non-finite component into a vector literal', () => {
      expect(() => vectorLiteral([1, Number.NaN])).toThrow(/not finite/);
      expect(() => vectorLiteral([Number.POSITIVE_INFINITY])).toThrow(/not finite/);
    });

    it('stores and searches 3072-dimension vectors sent as parameters', async () => {
      const large = await createCollection(database.db, { name: 'large', dimensions: 3072 });
      const random = seededRandom(3072);
      const vectors = Array.from({ length: 5 }, () => randomVector(3072, random));
      await insertDocuments(
        database.db,
        large,
        vectors.map((embedding, i) => ({ content: `large ${i}`, embedding })),
      );
      const [nearest] = await database.db
        .select({ content: documents.content })
        .from(documents)
        .where(inCollection(large.id))
        .orderBy(distanceTo(large, vectors[3] ?? []))
        .limit(1);
      expect(nearest?.content).toBe('large 3');
    });
  });
});
