import { skipToken, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ErrorState } from '../../../components/StatusMessage';
import { Badge } from '../../../components/ui/badge';
import { Button } from '../../../components/ui/button';
import { Card, CardDescription, CardTitle } from '../../../components/ui/card';
import { Input } from '../../../components/ui/input';
import { Label } from '../../../components/ui/label';
import { Progress } from '../../../components/ui/progress';
import { formatCount } from '../../../lib/format';
import { useTRPC } from '../../../lib/trpc';

/** While a re-embed runs, poll so its progress moves on screen. */
const POLL_MS = 2_000;

/**
 * Re-embedding the collection with another model, online: its progress (kept in the database by
 * the server, so it survives restarts), and for admin keys a form to start or cancel one.
 * `unbound`: the key is not bound to a tenant (progress counts every tenant's documents).
 * `manage`: the key may start and cancel one (an admin key not bound to a tenant).
 */
export function Reembed({
  collection,
  unbound,
  manage,
}: {
  collection: string;
  unbound: boolean;
  manage: boolean;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [model, setModel] = useState('');
  const [dimensions, setDimensions] = useState('');
  const progress = useQuery(
    trpc.reembed.progress.queryOptions(unbound ? { collection } : skipToken, {
      refetchInterval: (query) => {
        const state = query.state.data?.state;
        return state === 'filling' || state === 'switching' ? POLL_MS : false;
      },
    }),
  );
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.pathKey() });
  const start = useMutation(
    trpc.reembed.start.mutationOptions({
      onSuccess: () => {
        // The form comes back once the job ends: empty, not naming the model now in use.
        setModel('');
        setDimensions('');
        return refresh();
      },
    }),
  );
  const cancel = useMutation(trpc.reembed.cancel.mutationOptions({ onSuccess: refresh }));
  const job = progress.data;
  const running = job?.state === 'filling' || job?.state === 'switching';
  // A job seen running, then done, switched the collection's model, dimensions and index: the
  // page shows them again from the server.
  const watched = useRef<number | undefined>(undefined);
  useEffect(() => {
    if (running) watched.current = job.job;
    else if (job?.state === 'done' && watched.current === job.job) {
      watched.current = undefined;
      void queryClient.invalidateQueries({ queryKey: trpc.collections.pathKey() });
    }
  }, [job?.job, job?.state, running, queryClient, trpc]);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const size = Number(dimensions.trim());
    start.mutate({
      collection,
      model: model.trim(),
      ...(dimensions.trim() && Number.isInteger(size) ? { dimensions: size } : {}),
    });
  };

  return (
    <Card aria-labelledby={`${id}-title`} className="space-y-3">
      <div>
        <CardTitle id={`${id}-title`}>Re-embed with another model</CardTitle>
        <CardDescription>
          New vectors are filled in batches beside the old ones; searches use the old ones until one
          transaction switches them.
        </CardDescription>
      </div>
      {!unbound ? (
        <p className="text-sm text-muted-foreground">
          Not shown to a key bound to a tenant: its counts cover every tenant.
        </p>
      ) : null}
      {progress.isError ? (
        <ErrorState error={progress.error} action="load the re-embed progress" />
      ) : null}
      {job ? (
        <div className="space-y-2" aria-label="re-embed progress">
          <p className="flex flex-wrap items-center gap-2 text-sm">
            <Badge
              variant={job.state === 'done' ? 'good' : job.state === 'cancelled' ? 'bad' : 'warn'}
            >
              {job.state}
            </Badge>
            <code>{job.from.model}</code> ({job.from.dimensions}) → <code>{job.to.model}</code> (
            {job.to.dimensions})
          </p>
          <Progress
            value={job.total > 0 ? (job.done / job.total) * 100 : 0}
            aria-label="re-embedded"
          />
          <p className="text-sm tabular-nums">
            {formatCount(job.done)} of {formatCount(job.total)} documents
            {job.lastError ? ` · last error: ${job.lastError}` : ''}
          </p>
          {running && manage ? (
            <Button variant="outline" size="sm" onClick={() => cancel.mutate({ collection })}>
              Cancel the re-embed
            </Button>
          ) : null}
        </div>
      ) : unbound && progress.isSuccess ? (
        <p className="text-sm text-muted-foreground">No re-embed has run on this collection.</p>
      ) : null}
      {manage && !running ? (
        <form className="grid gap-3 sm:grid-cols-[2fr_1fr_auto] sm:items-end" onSubmit={onSubmit}>
          <div className="grid gap-1.5">
            <Label htmlFor={`${id}-model`}>New model</Label>
            <Input
              id={`${id}-model`}
              value={model}
              onChange={(e) => setModel(e.target.value)}
              required
            />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor={`${id}-dims`}>Dimensions</Label>
            <Input
              id={`${id}-dims`}
              inputMode="numeric"
              placeholder="the model's"
              value={dimensions}
              onChange={(e) => setDimensions(e.target.value)}
            />
          </div>
          <Button type="submit" disabled={start.isPending || !model.trim()}>
            Start re-embedding
          </Button>
        </form>
      ) : null}
      {start.isError ? <ErrorState error={start.error} action="start the re-embed" /> : null}
      {cancel.isError ? <ErrorState error={cancel.error} action="cancel the re-embed" /> : null}
    </Card>
  );
}
