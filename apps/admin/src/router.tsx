import {
  createRootRoute,
  createRoute,
  createRouter,
  redirect,
  stripSearchParams,
} from '@tanstack/react-router';
import { CollectionsPage } from './features/collections';
import { DocumentPage } from './features/documents';
import { defaultDocumentState, documentStateSchema } from './features/documents/document-state';
import { ExplainPage } from './features/explain';
import { SearchPage } from './features/search';
import {
  defaultExplainState,
  defaultSearchState,
  explainStateSchema,
  searchStateSchema,
} from './features/search/search-state';
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

const documentRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/collections/$collection/documents/$documentId',
  validateSearch: documentStateSchema,
  search: { middlewares: [stripSearchParams(defaultDocumentState)] },
  component: DocumentPage,
});

const routeTree = rootRoute.addChildren([
  homeRoute,
  collectionsRoute,
  searchRoute,
  explainRoute,
  documentRoute,
]);

export const router = createRouter({ routeTree, defaultPreload: false, scrollRestoration: true });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
