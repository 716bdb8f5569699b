import { getRouteApi, Link } from '@tanstack/react-router';
import { useFormKey } from '../../lib/use-form-key';
import { QueryForm } from './components/QueryForm';
import { ResultList } from './components/ResultList';
import { searchStateSchema, type SearchState } from './search-state';
import { useSearch } from './use-search';

const route = getRouteApi('/collections/$collection/search');

export function SearchPage() {
  const { collection } = route.useParams();
  const state = route.useSearch();
  const navigate = route.useNavigate();
  const { plan, query } = useSearch(collection, state);
  const form = useFormKey(state);

  const run = (next: SearchState) => {
    form.noteOwnChange(searchStateSchema.parse(next));
    void navigate({ search: next });
  };

  return (
    <div className="page">
      <header className="page-header page-header-row">
        <div>
          <h1>
            Search <span className="collection-name">{collection}</span>
          </h1>
          <p className="muted">
            Every setting is in the address bar: copy the link to share this exact query.
          </p>
        </div>
        {plan.ok ? (
          <Link
            to="/collections/$collection/explain"
            params={{ collection }}
            search={state}
            className="button"
          >
            Explain these results
          </Link>
        ) : null}
      </header>
      <div className="split">
        <aside className="split-side">
          <QueryForm key={form.key} collection={collection} state={state} onRun={run} />
        </aside>
        <div className="split-main">
          <ResultList collection={collection} state={state} plan={plan} query={query} />
        </div>
      </div>
    </div>
  );
}
