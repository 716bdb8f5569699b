import { Link } from '@tanstack/react-router';
import type { RouterOutputs } from '@quarry/api';
import { Stat } from '../../../components/Stat';
import { formatBytes, formatCount } from '../../../lib/format';

type Collection = RouterOutputs['collections']['list'][number];

function IndexState({ index, tenant }: Pick<Collection, 'index' | 'tenant'>) {
  // The index holds every tenant's rows: a key bound to one tenant is not shown its figures.
  if (!index && tenant !== null)
    return <span className="badge">not shown to a key bound to tenant {tenant}</span>;
  if (!index) return <span className="badge badge-bad">no index: searches scan every row</span>;
  if (index.building) return <span className="badge badge-warn">building…</span>;
  if (!index.valid) return <span className="badge badge-bad">invalid: rebuild it</span>;
  return <span className="badge badge-good">ready</span>;
}

export function CollectionCard({ collection }: { collection: Collection }) {
  const { index } = collection;
  return (
    <article className="card collection-card" aria-labelledby={`collection-${collection.id}`}>
      <header className="card-header">
        <h2 id={`collection-${collection.id}`}>{collection.name}</h2>
        <div className="card-actions">
          <Link
            to="/collections/$collection/search"
            params={{ collection: collection.name }}
            className="button button-primary"
          >
            Search
          </Link>
          <Link
            to="/collections/$collection/explain"
            params={{ collection: collection.name }}
            className="button"
          >
            Explain
          </Link>
        </div>
      </header>
      <dl className="stats">
        <Stat label="Documents">{formatCount(collection.documentCount)}</Stat>
        <Stat label="Dimensions">{collection.dimensions}</Stat>
        <Stat label="Metric">{collection.metric}</Stat>
        <Stat label="Model">
          <code>{collection.embeddingModel}</code>
        </Stat>
        <Stat label="Index">
          HNSW on <code>{collection.indexType}</code> <code>{collection.operatorClass}</code>
        </Stat>
        <Stat label="HNSW parameters">
          m = {collection.hnsw.m}, ef_construction = {collection.hnsw.efConstruction}
        </Stat>
        <Stat
          label="Index state"
          tone={
            !index
              ? collection.tenant === null
                ? 'bad'
                : undefined
              : !index.valid
                ? 'bad'
                : index.building
                  ? 'warn'
                  : undefined
          }
        >
          <IndexState index={index} tenant={collection.tenant} />
        </Stat>
        <Stat label="Index size">{index ? formatBytes(index.sizeBytes) : '–'}</Stat>
      </dl>
      {index ? (
        <p className="muted small">
          Index <code>{index.name}</code>
        </p>
      ) : null}
    </article>
  );
}
