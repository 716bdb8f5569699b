import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import type { RouterOutputs } from '@quarry/api';
import { ErrorState } from '../../../components/StatusMessage';
import { Button } from '../../../components/ui/button';
import { Card, CardDescription, CardTitle } from '../../../components/ui/card';
import { Input } from '../../../components/ui/input';
import { Label } from '../../../components/ui/label';
import { formatBytes, formatCount } from '../../../lib/format';
import { useTRPC } from '../../../lib/trpc';
import { rebuildCost } from '../rebuild-cost';

type Collection = RouterOutputs['collections']['get'];

/** New HNSW parameters, with what the rebuild will cost before it starts. */
export function IndexParameters({ collection }: { collection: Collection }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [m, setM] = useState(String(collection.hnsw.m));
  const [efConstruction, setEfConstruction] = useState(String(collection.hnsw.efConstruction));
  const update = useMutation(
    trpc.collections.updateIndex.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.collections.pathKey() }),
    }),
  );
  const next = { m: Number(m), efConstruction: Number(efConstruction) };
  const valid = Number.isInteger(next.m) && Number.isInteger(next.efConstruction) && next.m > 0;
  const changed =
    next.m !== collection.hnsw.m || next.efConstruction !== collection.hnsw.efConstruction;
  const cost = valid
    ? rebuildCost({
        documents: collection.documentCount,
        dimensions: collection.dimensions,
        vectorBytesPerDimension: collection.indexType === 'halfvec' ? 2 : 4,
        currentIndexBytes: collection.index?.sizeBytes ?? null,
        current: collection.hnsw,
        next,
      })
    : undefined;

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    update.mutate({ name: collection.name, hnsw: next });
  };

  return (
    <Card aria-labelledby={`${id}-title`} className="space-y-3">
      <div>
        <CardTitle id={`${id}-title`}>Change index parameters</CardTitle>
        <CardDescription>
          The index is rebuilt with the new parameters and swapped in; searches use the current one
          until then.
        </CardDescription>
      </div>
      <form className="grid gap-3 sm:grid-cols-[1fr_1fr_auto] sm:items-end" onSubmit={onSubmit}>
        <div className="grid gap-1.5">
          <Label htmlFor={`${id}-m`}>HNSW m</Label>
          <Input
            id={`${id}-m`}
            inputMode="numeric"
            value={m}
            onChange={(e) => setM(e.target.value)}
          />
        </div>
        <div className="grid gap-1.5">
          <Label htmlFor={`${id}-efc`}>ef_construction</Label>
          <Input
            id={`${id}-efc`}
            inputMode="numeric"
            value={efConstruction}
            onChange={(e) => setEfConstruction(e.target.value)}
          />
        </div>
        <Button type="submit" disabled={!valid || !changed || update.isPending}>
          {update.isPending ? 'Rebuilding…' : 'Rebuild the index'}
        </Button>
      </form>
      {cost && changed ? (
        <p className="text-sm" aria-label="rebuild cost">
          The rebuild reads {formatCount(cost.vectors)} vectors and builds a new graph of about{' '}
          {formatBytes(cost.estimatedIndexBytes)} (now{' '}
          {collection.index ? formatBytes(collection.index.sizeBytes) : 'no index'}); both exist
          until the swap. Each insert does {cost.buildWorkRatio.toFixed(1)}× the work of the current
          build (ef_construction {collection.hnsw.efConstruction} → {next.efConstruction}).
        </p>
      ) : null}
      {update.isError ? <ErrorState error={update.error} action="change the index" /> : null}
      {update.isSuccess ? (
        <p className="text-sm text-good" role="status">
          Rebuilt with m = {update.data.hnsw.m}, ef_construction = {update.data.hnsw.efConstruction}
          .
        </p>
      ) : null}
    </Card>
  );
}
