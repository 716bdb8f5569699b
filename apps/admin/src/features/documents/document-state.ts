import { z } from 'zod';
import { metadataFilterSchema } from '../search';

export const documentStateSchema = z.object({
  /** How many nearest neighbours to list. */
  neighbours: z.int().min(1).max(100).default(10).catch(10),
  /** Only needed with a key that is not bound to a tenant, for documents of a named tenant. */
  tenant: z.string().min(1).max(128).optional().catch(undefined),
});
export type DocumentState = z.infer<typeof documentStateSchema>;
export const defaultDocumentState: DocumentState = documentStateSchema.parse({});

/**
 * How many earlier pages "Previous page" can go back through. Each is a cursor (about 130
 * characters) in the URL; past this many, the oldest are dropped and "First page" goes back.
 */
export const MAX_BACK = 20;

/** The document browser: a selection and a page of it, all in the URL. */
export const browseStateSchema = z.object({
  filter: metadataFilterSchema.optional().catch(undefined),
  tenant: z.string().min(1).max(128).optional().catch(undefined),
  /** Where the page starts: the API's opaque `nextCursor` of the page before. */
  cursor: z.string().max(512).optional().catch(undefined),
  /**
   * The cursors of the pages before this one, the nearest last (the first page has none), for
   * "Previous page"; at most the last MAX_BACK (browse-pages.ts).
   */
  back: z.array(z.string().max(512)).max(MAX_BACK).optional().catch(undefined),
  /** The page number shown, counted from 1 (the cursor alone does not know it). */
  page: z.int().min(1).default(1).catch(1),
  limit: z.int().min(1).max(200).default(25).catch(25),
});
export type BrowseState = z.infer<typeof browseStateSchema>;
export const defaultBrowseState: BrowseState = browseStateSchema.parse({});
