import { z } from 'zod';

export const documentStateSchema = z.object({
  /** How many nearest neighbours to list. */
  neighbours: z.int().min(1).max(100).default(10).catch(10),
  /** Only needed with a key that is not bound to a tenant, for documents of a named tenant. */
  tenant: z.string().min(1).max(128).optional().catch(undefined),
});
export type DocumentState = z.infer<typeof documentStateSchema>;
export const defaultDocumentState: DocumentState = documentStateSchema.parse({});
