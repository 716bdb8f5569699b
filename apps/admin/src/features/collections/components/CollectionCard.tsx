import { Link } from '@tanstack/react-router';
import type { RouterOutputs } from '@quarry/api';
import { Stat, Stats } from '../../../components/Stat';
import { Badge } from '../../../components/ui/badge';
import { Card, CardHeader, CardTitle } from '../../../components/ui/card';
import { formatBytes, formatCount } from '../../../lib/format';
import { CollectionLinks } from './CollectionLinks';

export type CollectionSummary = RouterOutputs['collections']['list'][number];

export function IndexState({ index, tenant }: Pick<CollectionSummary, 'index' | 'tenant'>) {
  // The index holds every tenant's rows: a key bound to one tenant is not shown its figures.
  if (!index && tenant !== null) return <Badge>not shown to a key bound to tenant {tenant}</Badge>;
  if (!index) return <Badge variant="bad">no index: searches scan every row</Badge>;
  if (index.building) return <Badge variant="warn">building…</Badge>;
  if (!index.valid) return <Badge variant="bad">invalid: rebuild it</Badge>;
  return <Badge variant="good">ready</Badge>;
}

export function CollectionCard({ collection }: { collection: CollectionSummary }) {
  const { index } = collection;
  const params = { collection: collection.name };
  return (
    <Card role="article" aria-labelledby={`collection-${collection.id}`}>
      <CardHeader>
        <CardTitle id={`collection-${collection.id}`}>
          <Link to="/collections/$collection" params={params}>
            {collection.name}
          </Link>
        </CardTitle>
        <CollectionLinks name={collection.name} />
      </CardHeader>
      <Stats>
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
        <Stat label="Index state">
          <IndexState index={index} tenant={collection.tenant} />
        </Stat>
        <Stat label="Index size">{index ? formatBytes(index.sizeBytes) : '–'}</Stat>
      </Stats>
    </Card>
  );
}
