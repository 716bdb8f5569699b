import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useMemo, useState, type FormEvent } from 'react';
import { MetadataList } from '../../components/MetadataList';
import { PageHeader, Split } from '../../components/Page';
import { EmptyState, ErrorState, Loading } from '../../components/StatusMessage';
import { Button } from '../../components/ui/button';
import { Card } from '../../components/ui/card';
import { Input } from '../../components/ui/input';
import { Label } from '../../components/ui/label';
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from '../../components/ui/table';
import { formatCount, shortId } from '../../lib/format';
import { markdownToText } from '../../lib/markdown-text';
import { useTRPC } from '../../lib/trpc';
import { cn } from '../../lib/utils';
import {
  FilterEditor,
  initialEditorState,
  resolveFilter,
  useMetadataKeys,
  type FilterEditorState,
  type KeyTypes,
} from '../search';
import { firstPage, nextPage, previousPage } from './browse-pages';
import type { BrowseState } from './document-state';

const route = getRouteApi('/collections/$collection/documents');

/** The selection: the same filter builder as search, and a tenant. */
function SelectionForm({
  collection,
  state,
  onApply,
}: {
  collection: string;
  state: BrowseState;
  onApply: (selection: Pick<BrowseState, 'filter' | 'tenant'>) => void;
}) {
  const keys = useMetadataKeys(collection);
  const keyTypes: KeyTypes = useMemo(
    () => new Map((keys.data ?? []).map((key) => [key.key, key.types])),
    [keys.data],
  );
  const [editor, setEditor] = useState<FilterEditorState>(() =>
    initialEditorState(state.filter, new Map()),
  );
  const [tenant, setTenant] = useState(state.tenant ?? '');
  const resolved = resolveFilter(editor, keyTypes);
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (resolved.problem) return;
    onApply({ filter: resolved.filter, tenant: tenant.trim() || undefined });
  };
  return (
    <Card>
      <form className="grid gap-4" onSubmit={onSubmit} aria-label="document selection">
        <FilterEditor
          state={editor}
          onChange={setEditor}
          resolved={resolved}
          keys={keys.data ?? []}
          keyTypes={keyTypes}
          keysUnavailable={keys.isError}
        />
        <div className="grid gap-1.5">
          <Label htmlFor="browse-tenant">Tenant</Label>
          <Input
            id="browse-tenant"
            value={tenant}
            placeholder="all"
            onChange={(event) => setTenant(event.target.value)}
          />
        </div>
        <div className="flex justify-end">
          <Button type="submit" disabled={resolved.problem !== undefined}>
            Show documents
          </Button>
        </div>
      </form>
    </Card>
  );
}

/** Every document of a collection, newest first, a page at a time (keyset cursors). */
export function DocumentBrowser() {
  const { collection } = route.useParams();
  const state = route.useSearch();
  const navigate = route.useNavigate();
  const trpc = useTRPC();
  const selection = {
    collection,
    ...(state.filter ? { filter: state.filter } : {}),
    ...(state.tenant ? { tenant: state.tenant } : {}),
  };
  const page = useQuery(
    trpc.documents.list.queryOptions(
      {
        ...selection,
        limit: state.limit,
        contentMaxChars: 240,
        ...(state.cursor ? { cursor: state.cursor } : {}),
      },
      { placeholderData: keepPreviousData },
    ),
  );
  const total = useQuery(trpc.documents.count.queryOptions(selection));
  const first = (state.page - 1) * state.limit + 1;
  const previous = previousPage(state);

  return (
    <div>
      <PageHeader
        title={<>Documents in {collection}</>}
        description="Newest first. The selection and the page are in the address bar."
      />
      <Split
        side={
          <SelectionForm
            key={JSON.stringify([state.filter, state.tenant])}
            collection={collection}
            state={state}
            onApply={(next) => void navigate({ search: { ...next, limit: state.limit } })}
          />
        }
      >
        {page.isPending ? <Loading what="documents" /> : null}
        {page.isError ? (
          <ErrorState
            error={page.error}
            action="list the documents"
            onRetry={() => void page.refetch()}
          />
        ) : null}
        {page.data ? (
          <section
            aria-label="documents"
            aria-busy={page.isFetching}
            className={cn('space-y-3', page.isPlaceholderData && 'results-stale opacity-60')}
          >
            <p className="text-sm" aria-label="page position">
              {page.data.items.length === 0
                ? 'No documents'
                : `Documents ${formatCount(first)}–${formatCount(first + page.data.items.length - 1)}`}
              {total.data ? ` of ${formatCount(total.data.count)}` : ''}
              {state.filter || state.tenant ? ' matching the selection' : ''}
            </p>
            {page.data.items.length === 0 ? (
              <EmptyState title="No document matches this selection.">
                Loosen the filter or the tenant, or upload documents.
              </EmptyState>
            ) : (
              <Card className="p-0 sm:p-0">
                <Table>
                  <TableHeader>
                    <TableRow>
                      <TableHead className="w-24">Id</TableHead>
                      <TableHead>Content and metadata</TableHead>
                      <TableHead className="hidden w-28 md:table-cell">Tenant</TableHead>
                      <TableHead className="hidden w-44 md:table-cell">Created</TableHead>
                    </TableRow>
                  </TableHeader>
                  <TableBody>
                    {page.data.items.map((document) => (
                      <TableRow key={document.id} data-document-id={document.id}>
                        <TableCell>
                          <Link
                            to="/collections/$collection/documents/$documentId"
                            params={{ collection, documentId: document.id }}
                            search={document.tenant ? { tenant: document.tenant } : {}}
                            aria-label={`open document ${shortId(document.id)}`}
                          >
                            <code>{shortId(document.id)}</code>
                          </Link>
                        </TableCell>
                        <TableCell className="min-w-0 space-y-1.5">
                          <p className="line-clamp-3 break-words">
                            {markdownToText(document.content)}
                            {document.contentTruncated ? ' …' : ''}
                          </p>
                          <MetadataList metadata={document.metadata} />
                        </TableCell>
                        <TableCell className="hidden md:table-cell">{document.tenant}</TableCell>
                        <TableCell className="hidden text-xs md:table-cell">
                          <time dateTime={document.createdAt}>
                            {new Date(document.createdAt).toLocaleString()}
                          </time>
                        </TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              </Card>
            )}
            <nav aria-label="pages" className="flex flex-wrap gap-2">
              {state.page > 1 ? (
                <Button variant="outline" size="sm" asChild>
                  <Link to="." search={firstPage(state)}>
                    First page
                  </Link>
                </Button>
              ) : null}
              {previous ? (
                <Button variant="outline" size="sm" asChild>
                  <Link to="." search={previous}>
                    Previous page
                  </Link>
                </Button>
              ) : null}
              {page.data.nextCursor ? (
                <Button variant="outline" size="sm" asChild>
                  <Link to="." search={nextPage(state, page.data.nextCursor)}>
                    Next page
                  </Link>
                </Button>
              ) : null}
            </nav>
          </section>
        ) : null}
      </Split>
    </div>
  );
}
