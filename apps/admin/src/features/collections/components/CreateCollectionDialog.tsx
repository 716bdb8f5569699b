import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useId, useState, type FormEvent } from 'react';
import { ErrorState } from '../../../components/StatusMessage';
import { Button } from '../../../components/ui/button';
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
  DialogTrigger,
} from '../../../components/ui/dialog';
import { Input, NativeSelect } from '../../../components/ui/input';
import { Label } from '../../../components/ui/label';
import { useTRPC } from '../../../lib/trpc';

const metrics = ['cosine', 'l2', 'inner_product'] as const;

/** Creating a collection needs an admin key not bound to a tenant: only such a key is offered this. */
export function CreateCollectionDialog() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const id = useId();
  const create = useMutation(
    trpc.collections.create.mutationOptions({
      onSuccess: async (created) => {
        await queryClient.invalidateQueries({ queryKey: trpc.collections.pathKey() });
        setOpen(false);
        await navigate({ to: '/collections/$collection', params: { collection: created.name } });
      },
    }),
  );

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => {
      const value = form.get(name);
      return typeof value === 'string' ? value.trim() : '';
    };
    create.mutate({
      name: text('name'),
      dimensions: Number(text('dimensions')),
      metric: text('metric') as (typeof metrics)[number],
      embeddingModel: text('embeddingModel'),
      hnsw: { m: Number(text('m')), efConstruction: Number(text('efConstruction')) },
    });
  };

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (!next) create.reset();
      }}
    >
      <DialogTrigger asChild>
        <Button>New collection</Button>
      </DialogTrigger>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>New collection</DialogTitle>
          <DialogDescription>
            The model names the vectors&apos; space. A model this server runs embeds text itself;
            any other name means each document brings its own vector.
          </DialogDescription>
        </DialogHeader>
        <form className="grid gap-3" onSubmit={onSubmit} aria-label="new collection">
          <div className="grid gap-1.5">
            <Label htmlFor={`${id}-name`}>Name</Label>
            <Input id={`${id}-name`} name="name" required pattern="[a-z0-9][a-z0-9_\-]{0,62}" />
          </div>
          <div className="grid grid-cols-2 gap-3">
            <div className="grid gap-1.5">
              <Label htmlFor={`${id}-dimensions`}>Dimensions</Label>
              <Input id={`${id}-dimensions`} name="dimensions" inputMode="numeric" required />
            </div>
            <div className="grid gap-1.5">
              <Label htmlFor={`${id}-metric`}>Metric</Label>
              <NativeSelect id={`${id}-metric`} name="metric" defaultValue="cosine">
                {metrics.map((metric) => (
                  <option key={metric}>{metric}</option>
                ))}
              </NativeSelect>
            </div>
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor={`${id}-model`}>Embedding model</Label>
            <Input id={`${id}-model`} name="embeddingModel" required />
          </div>
          <div className="grid grid-cols-2 gap-3">
            <div className="grid gap-1.5">
              <Label htmlFor={`${id}-m`}>HNSW m</Label>
              <Input id={`${id}-m`} name="m" inputMode="numeric" defaultValue="16" />
            </div>
            <div className="grid gap-1.5">
              <Label htmlFor={`${id}-efc`}>ef_construction</Label>
              <Input id={`${id}-efc`} name="efConstruction" inputMode="numeric" defaultValue="64" />
            </div>
          </div>
          {create.isError ? (
            <ErrorState error={create.error} action="create the collection" />
          ) : null}
          <DialogFooter>
            <Button type="submit" disabled={create.isPending}>
              {create.isPending ? 'Creating…' : 'Create'}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
