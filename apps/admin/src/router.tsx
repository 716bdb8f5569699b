import {
  createRootRoute,
  createRoute,
  createRouter,
  redirect,
  stripSearchParams,
} from '@tanstack/react-router';
import { CollectionPage, CollectionsPage } from './features/collections';
import {
  browseStateSchema,
  defaultBrowseState,
  defaultDocumentState,
  DocumentBrowser,
  DocumentPage,
  documentStateSchema,
} from './features/documents';
import { ExplainPage } from './features/explain';
import {
  defaultExplainState,
  defaultSearchState,
  explainStateSchema,
  SearchPage,
  searchStateSchema,
} from './features/search';
import { UploadPage } from './features/upload';
import { AppShell, NotFound } from './layout/AppShell';

const rootRoute = createRootRoute({ component: AppShell, notFoundComponent: NotFound });

const homeRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  beforeLoad: () => {
    redirect({ to: '/collections', throw: true });
  },
});

const collectionsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/collections',
  component: CollectionsPage,
});

const collectionRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/collections/$collection',
  component: CollectionPage,
});

// Each page's query lives in its URL, validated by a schema with defaults; defaults are left out of links.
const searchRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/collections/$collection/search',
  validateSearch: searchStateSchema,
  search: { middlewares: [stripSearchParams(defaultSearchState)] },
  component: SearchPage,
});

const explainRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/collections/$collection/explain',
  validateSearch: explainStateSchema,
  search: { middlewares: [stripSearchParams(defaultExplainState)] },
  component: ExplainPage,
});

const documentsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/collections/$collection/documents',
  validateSearch: browseStateSchema,
  search: { middlewares: [stripSearchParams(defaultBrowseState)] },
  component: DocumentBrowser,
});

const documentRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/collections/$collection/documents/$documentId',
  validateSearch: documentStateSchema,
  search: { middlewares: [stripSearchParams(defaultDocumentState)] },
  component: DocumentPage,
});

const uploadRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/collections/$collection/upload',
  component: UploadPage,
});

const routeTree = rootRoute.addChildren([
  homeRoute,
  collectionsRoute,
  collectionRoute,
  searchRoute,
  explainRoute,
  documentsRoute,
  documentRoute,
  uploadRoute,
]);

export const router = createRouter({ routeTree, defaultPreload: false, scrollRestoration: true });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
