import { skipToken, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorState, Loading } from '../../../components/StatusMessage';
import { Button } from '../../../components/ui/button';
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogHeader,
  DialogTitle,
  DialogTrigger,
} from '../../../components/ui/dialog';
import { formatCount, shortId } from '../../../lib/format';
import { markdownToText } from '../../../lib/markdown-text';
import { useTRPC } from '../../../lib/trpc';

/** A result's whole content, fetched only when asked for (results carry a prefix). */
export function FullDocumentDialog({
  collection,
  documentId,
  tenant,
}: {
  collection: string;
  documentId: string;
  tenant: string | undefined;
}) {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const document = useQuery(
    trpc.documents.get.queryOptions(
      open ? { collection, id: documentId, ...(tenant ? { tenant } : {}) } : skipToken,
    ),
  );
  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        <Button variant="link" size="sm" className="h-auto text-sm">
          Show the full document
        </Button>
      </DialogTrigger>
      <DialogContent className="max-w-3xl">
        <DialogHeader>
          <DialogTitle>
            Document <code>{shortId(documentId)}</code>
          </DialogTitle>
          <DialogDescription>
            {document.data
              ? `${formatCount(document.data.contentLength)} characters`
              : 'The whole content, as text.'}
          </DialogDescription>
        </DialogHeader>
        {document.isPending ? <Loading what="the document" /> : null}
        {document.isError ? <ErrorState error={document.error} action="load the document" /> : null}
        {document.data ? (
          <div className="full-document text-sm break-words whitespace-pre-line">
            {markdownToText(document.data.content)}
          </div>
        ) : null}
      </DialogContent>
    </Dialog>
  );
}
