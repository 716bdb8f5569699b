import { getRouteApi, Link } from '@tanstack/react-router';
import { PageHeader, Split } from '../../components/Page';
import { Button } from '../../components/ui/button';
import { useFormKey } from '../../lib/use-form-key';
import { QueryForm } from './components/QueryForm';
import { ResultList } from './components/ResultList';
import { searchStateSchema, type SearchState } from './search-state';
import { useSearch } from './use-search';

// The public entry of the search feature: what other features (explain, documents) may use.
export {
  defaultExplainState,
  defaultSearchState,
  explainStateSchema,
  pickSearchState,
  searchStateSchema,
  toSearchInput,
  type SearchState,
} from './search-state';
export { useMetadataKeys, useSearch } from './use-search';
export { FilterEditor } from './components/FilterEditor';
export {
  initialEditorState,
  resolveFilter,
  type FilterEditorState,
} from './filter/filter-editor-state';
export type { KeyTypes } from './filter/filter-draft';
export { metadataFilterSchema } from './filter/filter-schema';

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
    <div>
      <PageHeader
        title={<>Search {collection}</>}
        description="Every setting is in the address bar: copy the link to share this exact query."
        actions={
          plan.ok ? (
            <Button asChild variant="outline" size="sm">
              <Link to="/collections/$collection/explain" params={{ collection }} search={state}>
                Explain these results
              </Link>
            </Button>
          ) : null
        }
      />
      <Split side={<QueryForm key={form.key} collection={collection} state={state} onRun={run} />}>
        <ResultList collection={collection} state={state} plan={plan} query={query} />
      </Split>
    </div>
  );
}
