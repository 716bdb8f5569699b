import { authRouter } from './routers/auth';
import { collectionsRouter } from './routers/collections';
import { documentsRouter } from './routers/documents';
import { searchRouter } from './routers/search';
import { reembedRouter } from './reembed-router';
import { router } from './trpc';

export const appRouter = router({
  auth: authRouter,
  collections: collectionsRouter,
  documents: documentsRouter,
  reembed: reembedRouter,
  search: searchRouter,
});

export type AppRouter = typeof appRouter;
