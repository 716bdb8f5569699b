import { Link, Outlet, useParams } from '@tanstack/react-router';
import { EmptyState } from '../components/StatusMessage';
import { ApiKeyField } from './ApiKeyField';

export function AppShell() {
  const { collection } = useParams({ strict: false });
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/collections" className="brand">
          Quarry
        </Link>
        <nav aria-label="main">
          <Link to="/collections" activeOptions={{ exact: true }}>
            Collections
          </Link>
          {collection ? (
            <>
              <span className="nav-collection" aria-label="current collection">
                {collection}
              </span>
              <Link to="/collections/$collection/search" params={{ collection }}>
                Search
              </Link>
              <Link to="/collections/$collection/explain" params={{ collection }}>
                Explain
              </Link>
            </>
          ) : null}
        </nav>
        <ApiKeyField />
      </header>
      <main id="main" tabIndex={-1}>
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
