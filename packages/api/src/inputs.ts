import { z } from 'zod';
import { distanceMetrics } from '@quarry/db';
import { HARD_LIMITS } from './limits';

export const collectionNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'collection names are 1-63 characters: lowercase letters, digits, "-" and "_", starting with a letter or digit');

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
  .refine((p) => p.efConstruction >= 2 * p.m, { message: 'efConstruction must be at least 2 × m (pgvector requires it)', path: ['efConstruction'] });

export const createdRangeSchema = {
  createdAfter: z.iso.datetime({ offset: true }).optional(),
  createdBefore: z.iso.datetime({ offset: true }).optional(),
};

export const documentIdSchema = z.uuid();
