import { z } from 'zod';
import type { JsonScalar, JsonValue, MetadataCondition, MetadataFilter } from '@quarry/api/filter';

/**
 * The shape of the API's metadata filter, checked in the browser so a hand-edited link or JSON
 * fails here with a precise message. Caps (depth, sizes) stay the server's to enforce: it
 * validates every filter again at its edge and its message is shown as is.
 */
const scalarSchema: z.ZodType<JsonScalar> = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
]);
const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([scalarSchema, z.array(jsonValueSchema), z.record(z.string(), jsonValueSchema)]),
);
const keySchema = z.union([z.string(), z.array(z.string()).min(1)]);

const conditionSchema: z.ZodType<MetadataCondition> = z.discriminatedUnion('op', [
  z.strictObject({ key: keySchema, op: z.enum(['eq', 'ne']), value: scalarSchema }),
  z.strictObject({
    key: keySchema,
    op: z.enum(['gt', 'gte', 'lt', 'lte']),
    value: z.union([z.number(), z.string()]),
  }),
  z.strictObject({ key: keySchema, op: z.enum(['in', 'nin']), values: z.array(scalarSchema) }),
  z.strictObject({ key: keySchema, op: z.literal('exists') }),
  z.strictObject({ key: keySchema, op: z.literal('contains'), value: jsonValueSchema }),
]);

export const metadataFilterSchema: z.ZodType<MetadataFilter> = z.lazy(() =>
  z.union([
    conditionSchema,
    z.strictObject({ and: z.array(metadataFilterSchema) }),
    z.strictObject({ or: z.array(metadataFilterSchema) }),
    z.strictObject({ not: metadataFilterSchema }),
  ]),
);
