import { z } from 'zod';
import { distanceMetrics, documents, gte, lte, sql, textSearchConfigs, type SQL } from '@quarry/db';
import { HARD_LIMITS } from './limits';
import { BASE64_VECTOR_FORM, decodeBase64Vector } from './vector-base64';

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

const VECTOR_FORMS = `an array of numbers, or ${BASE64_VECTOR_FORM}`;

/**
 * A vector: an array of numbers, or base64 of its little-endian float32 components, as OpenAI's
 * API returns it with `encoding_format: "base64"` and Quarry's client sends it: a quarter of the
 * JSON's bytes, and nothing for either side to format or parse (at 1,536 dimensions, ~0.2 ms of
 * JSON.stringify and ~0.2 ms of JSON.parse). Either way, numbers once validated.
 */
export const vectorSchema = z.union(
  [
    z.array(z.number()).min(1).max(HARD_LIMITS.vectorDimensions),
    z
      .string()
      .max(Math.ceil((HARD_LIMITS.vectorDimensions * 4) / 3 / 4) * 4)
      .transform((text, ctx) => {
        const decoded = decodeBase64Vector(text);
        if (!decoded) {
          ctx.addIssue({ code: 'custom', message: `expected ${VECTOR_FORMS}` });
          return z.NEVER;
        }
        const at = decoded.findIndex((component) => !Number.isFinite(component));
        if (at >= 0) {
          ctx.addIssue({
            code: 'custom',
            message: `component ${at} of the base64 vector is ${decoded[at]}, not a finite number`,
          });
          return z.NEVER;
        }
        return Array.from(decoded);
      }),
  ],
  {
    // The form the input took names what is wrong with it: a component of the array, or the text.
    error: (issue) => {
      const ofItsForm =
        issue.code === 'invalid_union'
          ? issue.errors
              .flat()
              .find((problem) => !(problem.code === 'invalid_type' && problem.path.length === 0))
          : undefined;
      if (!ofItsForm) return `expected ${VECTOR_FORMS}`;
      const at = ofItsForm.path.length > 0 ? `component ${ofItsForm.path.join('.')}: ` : '';
      return `${at}${ofItsForm.message}`;
    },
  },
);

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
