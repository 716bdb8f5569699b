import { z } from 'zod';
import { distanceMetrics, documents, gte, lte, sql, textSearchConfigs, type SQL } from '@quarry/db';
import { HARD_LIMITS } from './limits';

/** With the `u` flag, a surrogate matches only when it is not half of a pair. */
const loneSurrogate = /\p{Surrogate}/u;

/** Whether PostgreSQL can store `text` as given (storableText's rules, without a schema's cost). */
export const isStorableText = (text: string) =>
  !text.includes('\u0000') && !loneSurrogate.test(text);

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

/** Keyword search's text-search configuration: one of PostgreSQL's built-in ones, named in the refusal. */
export const textSearchConfigSchema = z.enum(textSearchConfigs, {
  error: (issue) =>
    `unknown text-search configuration ${typeof issue.input === 'string' ? `'${issue.input}'` : JSON.stringify(issue.input)}; use one of: ${textSearchConfigs.join(', ')}`,
});

export const hnswParametersSchema = z
  .object({
    m: z.number().int().min(2).max(100).default(16),
    efConstruction: z.number().int().min(4).max(1000).default(64),
  })
  .refine((p) => p.efConstruction >= 2 * p.m, {
    message: 'efConstruction must be at least 2 × m (pgvector requires it)',
    path: ['efConstruction'],
  });

/**
 * The instant in UTC, as ISO text PostgreSQL parses whatever the year: `toISOString` writes years
 * past 9999 as `+010000`, and PostgreSQL takes offsets only up to ±15:59; both were 500s. The
 * fraction of a second is kept digit for digit (a Date holds milliseconds only; PostgreSQL, micro).
 */
export function utcInstant(text: string): string {
  const fraction = /\.\d+/.exec(text)?.[0] ?? '';
  const iso = new Date(text.replace(/\.\d+/, '')).toISOString();
  const [, year = '', rest = ''] = /^\+?(\d+)(-\d\d-\d\dT\d\d:\d\d:\d\d)/.exec(iso) ?? [];
  return `${year.replace(/^0+(?=\d{4})/, '')}${rest}${fraction}Z`;
}

/**
 * An ISO 8601 date-time with `Z` or a `±HH:MM` offset, normalised to UTC (`utcInstant`). PostgreSQL
 * has no year 0: an instant before 0001-01-01 UTC is refused here, not by the database.
 */
export const instantSchema = z.iso
  .datetime({ offset: true })
  .refine((text) => new Date(text).getUTCFullYear() >= 1, 'dates must be in year 1 or later (UTC)')
  .transform(utcInstant);

/** A normalised instant (`instantSchema`) as a timestamptz parameter. */
export const timestamptz = (instant: string): SQL => sql`${instant}::timestamptz`;

export const createdRangeSchema = {
  createdAfter: instantSchema.optional(),
  createdBefore: instantSchema.optional(),
};

/** The dates of a `createdRangeSchema` as conditions on the documents' `created_at` (none when absent). */
export function createdRangeConditions(range: {
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}): SQL[] {
  return [
    ...(range.createdAfter ? [gte(documents.createdAt, timestamptz(range.createdAfter))] : []),
    ...(range.createdBefore ? [lte(documents.createdAt, timestamptz(range.createdBefore))] : []),
  ];
}

export const documentIdSchema = z.uuid();
