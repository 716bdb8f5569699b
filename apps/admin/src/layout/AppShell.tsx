import { Link, Outlet, useParams } from '@tanstack/react-router';
import { EmptyState } from '../components/StatusMessage';
import { ApiKeyField } from './ApiKeyField';

const navLink =
  'rounded-md px-2 py-1 text-sm text-muted-foreground no-underline hover:bg-muted hover:text-foreground hover:no-underline data-[status=active]:bg-muted data-[status=active]:text-foreground';

export function AppShell() {
  const { collection } = useParams({ strict: false });
  return (
    <>
      <a
        className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-background focus:p-2"
        href="#main"
      >
        Skip to content
      </a>
      <header className="sticky top-0 z-40 border-b bg-background/95 backdrop-blur">
        <div className="mx-auto flex max-w-screen-2xl flex-wrap items-center gap-x-4 gap-y-1 px-3 py-2 sm:px-6">
          <Link to="/collections" className="font-semibold text-foreground no-underline">
            Quarry
          </Link>
          <nav aria-label="main" className="flex min-w-0 flex-wrap items-center gap-1">
            <Link to="/collections" activeOptions={{ exact: true }} className={navLink}>
              Collections
            </Link>
            {collection ? (
              <>
                <Link
                  to="/collections/$collection"
                  params={{ collection }}
                  activeOptions={{ exact: true }}
                  className={`${navLink} max-w-40 truncate font-medium`}
                  aria-label={`collection ${collection}`}
                >
                  {collection}
                </Link>
                <Link
                  to="/collections/$collection/search"
                  params={{ collection }}
                  className={navLink}
                >
                  Search
                </Link>
                <Link
                  to="/collections/$collection/explain"
                  params={{ collection }}
                  className={navLink}
                >
                  Explain
                </Link>
                <Link
                  to="/collections/$collection/documents"
                  params={{ collection }}
                  activeOptions={{ exact: true }}
                  className={navLink}
                >
                  Documents
                </Link>
                <Link
                  to="/collections/$collection/upload"
                  params={{ collection }}
                  className={navLink}
                >
                  Upload
                </Link>
              </>
            ) : null}
          </nav>
          <div className="ml-auto">
            <ApiKeyField />
          </div>
        </div>
      </header>
      <main
        id="main"
        tabIndex={-1}
        className="mx-auto max-w-screen-2xl px-3 py-4 outline-none sm:px-6"
      >
        <Outlet />
      </main>
    </>
  );
}

export function NotFound() {
  return (
    <EmptyState title="There is no page at this address.">
      <p>
        Start from the <Link to="/collections">collections</Link>.
      </p>
    </EmptyState>
  );
}
