import { z } from 'zod';
import { distanceMetrics } from '@quarry/db';
import { HARD_LIMITS } from './limits';

/** With the `u` flag, a surrogate matches only when it is not half of a pair. */
const loneSurrogate = /\p{Surrogate}/u;

/**
 * Text that PostgreSQL can store and search as given: it cannot hold U+0000 in text or jsonb, and
 * an unpaired surrogate is not Unicode (jsonb refuses its escape; text would get U+FFFD instead).
 */
export const storableText = (schema: z.ZodString) =>
  schema
    .refine(
      (text) => !text.includes('\u0000'),
      'text may not contain the NUL character (U+0000), which PostgreSQL cannot store',
    )
    .refine(
      (text) => !loneSurrogate.test(text),
      'text must be well-formed Unicode; it has an unpaired surrogate',
    );

export const collectionNameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'collection names are 1-63 characters: lowercase letters, digits, "-" and "_", starting with a letter or digit',
  );

export const tenantSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w.:@-]+$/, 'tenant ids use letters, digits and . : @ _ -');

export const vectorSchema = z.array(z.number()).min(1).max(HARD_LIMITS.vectorDimensions);

export const metricSchema = z.enum(distanceMetrics);

export const hnswParametersSchema = z
  .object({
    m: z.number().int().min(2).max(100).default(16),
    efConstruction: z.number().int().min(4).max(1000).default(64),
  })
  .refine((p) => p.efConstruction >= 2 * p.m, {
    message: 'efConstruction must be at least 2 × m (pgvector requires it)',
    path: ['efConstruction'],
  });

/** PostgreSQL has no year 0: an instant before 0001-01-01 UTC is refused here, not by the database. */
export const instantSchema = z.iso
  .datetime({ offset: true })
  .refine((text) => new Date(text).getUTCFullYear() >= 1, 'dates must be in year 1 or later (UTC)');

export const createdRangeSchema = {
  createdAfter: instantSchema.optional(),
  createdBefore: instantSchema.optional(),
};

export const documentIdSchema = z.uuid();
