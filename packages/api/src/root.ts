import { collectionsRouter } from './routers/collections';
import { documentsRouter } from './routers/documents';
import { searchRouter } from './routers/search';
import { reembedRouter } from './reembed-router';
import { router } from './trpc';

export const appRouter = router({
  collections: collectionsRouter,
  documents: documentsRouter,
  reembed: reembedRouter,
  search: searchRouter,
});

export type AppRouter = typeof appRouter;
