import { collectionsRouter } from './routers/collections';
import { documentsRouter } from './routers/documents';
import { searchRouter } from './routers/search';
import { router } from './trpc';

export const appRouter = router({
  collections: collectionsRouter,
  documents: documentsRouter,
  search: searchRouter,
});

export type AppRouter = typeof appRouter;
