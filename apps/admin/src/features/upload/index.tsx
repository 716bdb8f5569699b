import { useMutation, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useId, useState, type FormEvent } from 'react';
import { PageHeader } from '../../components/Page';
import { ErrorState, FieldError } from '../../components/StatusMessage';
import { Button } from '../../components/ui/button';
import { Card, CardDescription, CardTitle } from '../../components/ui/card';
import { Input } from '../../components/ui/input';
import { Label } from '../../components/ui/label';
import { Progress } from '../../components/ui/progress';
import { formatCount } from '../../lib/format';
import { useTRPC, useTRPCClient } from '../../lib/trpc';
import {
  batches,
  chunkingProblem,
  DEFAULT_CHUNKING,
  planFile,
  type PlannedFile,
} from './upload-plan';

const route = getRouteApi('/collections/$collection/upload');

interface UploadProgress {
  file: string;
  sent: number;
  total: number;
  inserted: number;
  updated: number;
  unchanged: number;
}

/** Text and Markdown files from this computer, chunked in the browser as `quarry ingest` does. */
export function UploadPage() {
  const { collection } = route.useParams();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const id = useId();
  const [files, setFiles] = useState<File[]>([]);
  const [size, setSize] = useState(String(DEFAULT_CHUNKING.size));
  const [overlap, setOverlap] = useState(String(DEFAULT_CHUNKING.overlap));
  const [tenant, setTenant] = useState('');
  const [progress, setProgress] = useState<UploadProgress>();
  const chunking = { size: Number(size), overlap: Number(overlap) };
  const problem = chunkingProblem(chunking);

  const upload = useMutation({
    mutationFn: async () => {
      const planned: PlannedFile[] = [];
      for (const file of files) planned.push(planFile(file.name, await file.text(), chunking));
      const total = planned.reduce((sum, file) => sum + file.documents.length, 0);
      const tally: UploadProgress = {
        file: '',
        sent: 0,
        total,
        inserted: 0,
        updated: 0,
        unchanged: 0,
      };
      setProgress({ ...tally });
      for (const file of planned) {
        for (const batch of batches(file.documents)) {
          // One call per batch, in order: each is one transaction, and progress moves per call.
          const result = await client.documents.ingest.mutate({
            collection,
            documents: batch,
            ...(tenant.trim() ? { tenant: tenant.trim() } : {}),
          });
          tally.file = file.name;
          tally.sent += batch.length;
          tally.inserted += result.inserted;
          tally.updated += result.updated;
          tally.unchanged += result.unchanged;
          setProgress({ ...tally });
        }
      }
      return tally;
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.pathKey() }),
  });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (problem || files.length === 0) return;
    upload.mutate();
  };

  return (
    <div className="space-y-4">
      <PageHeader
        title={<>Upload to {collection}</>}
        description="Text and Markdown files are split into chunks here, in the browser, exactly as quarry ingest splits them (Markdown by heading), then sent in batches."
      />
      <Card className="space-y-4">
        <form className="grid gap-4" onSubmit={onSubmit} aria-label="upload files">
          <div className="grid gap-1.5">
            <Label htmlFor={`${id}-files`}>Files</Label>
            <Input
              id={`${id}-files`}
              type="file"
              multiple
              accept=".txt,.text,.md,.markdown,.mdx,.rst,.adoc,text/plain,text/markdown"
              className="h-auto py-1.5"
              onChange={(event) => setFiles(Array.from(event.target.files ?? []))}
            />
            <p className="text-xs text-muted-foreground">
              {files.length === 0
                ? 'Choose one or more .txt or .md files.'
                : files.map((file) => `${file.name} (${formatCount(file.size)} bytes)`).join(', ')}
            </p>
          </div>
          <div className="grid gap-3 sm:grid-cols-3">
            <div className="grid gap-1.5">
              <Label htmlFor={`${id}-size`}>Chunk size (characters)</Label>
              <Input
                id={`${id}-size`}
                inputMode="numeric"
                value={size}
                onChange={(e) => setSize(e.target.value)}
              />
            </div>
            <div className="grid gap-1.5">
              <Label htmlFor={`${id}-overlap`}>Overlap (characters)</Label>
              <Input
                id={`${id}-overlap`}
                inputMode="numeric"
                value={overlap}
                onChange={(e) => setOverlap(e.target.value)}
              />
            </div>
            <div className="grid gap-1.5">
              <Label htmlFor={`${id}-tenant`}>Tenant</Label>
              <Input
                id={`${id}-tenant`}
                placeholder="the key's, or default"
                value={tenant}
                onChange={(e) => setTenant(e.target.value)}
              />
            </div>
          </div>
          {problem ? <FieldError>{problem}</FieldError> : null}
          <div className="flex justify-end">
            <Button
              type="submit"
              disabled={upload.isPending || files.length === 0 || problem !== undefined}
            >
              {upload.isPending ? 'Uploading…' : 'Upload'}
            </Button>
          </div>
        </form>
      </Card>
      {progress ? (
        <Card className="space-y-3" aria-label="upload progress">
          <CardTitle>
            {upload.isSuccess ? 'Uploaded' : upload.isError ? 'Stopped' : 'Uploading'}
          </CardTitle>
          <Progress
            value={progress.total > 0 ? (progress.sent / progress.total) * 100 : 0}
            aria-label="chunks sent"
          />
          <p className="text-sm tabular-nums" role="status">
            {formatCount(progress.sent)} of {formatCount(progress.total)} chunks sent
            {progress.file ? ` (last from ${progress.file})` : ''}: {formatCount(progress.inserted)}{' '}
            new, {formatCount(progress.updated)} updated, {formatCount(progress.unchanged)}{' '}
            unchanged.
          </p>
          {upload.isSuccess ? (
            <CardDescription>
              <Link
                to="/collections/$collection/documents"
                params={{ collection }}
                search={{ filter: { key: 'source', op: 'eq', value: files[0]?.name ?? '' } }}
              >
                Browse what was uploaded
              </Link>
            </CardDescription>
          ) : null}
        </Card>
      ) : null}
      {upload.isError ? (
        <ErrorState
          error={upload.error}
          action={`upload (the batches before this one were written; ${progress ? formatCount(progress.sent) : 0} chunks)`}
        />
      ) : null}
    </div>
  );
}
