import { useQuery } from '@tanstack/react-query';
import { ErrorState, Loading } from '../../../components/StatusMessage';
import { Card, CardDescription, CardTitle } from '../../../components/ui/card';
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from '../../../components/ui/table';
import { formatBytes, formatCount } from '../../../lib/format';
import { useTRPC } from '../../../lib/trpc';

/** Where a Citus cluster keeps the collection (admin keys only: the figures span every tenant). */
export function ClusterLayout({ collection }: { collection: string }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.collections.cluster.queryOptions({ name: collection }));
  return (
    <Card aria-labelledby="cluster-heading" className="space-y-3">
      <CardTitle id="cluster-heading">Cluster</CardTitle>
      {query.isPending ? <Loading what="the cluster layout" /> : null}
      {query.isError ? <ErrorState error={query.error} action="load the cluster layout" /> : null}
      {query.data && !query.data.distributed ? (
        <CardDescription>One server: the documents are not distributed (no Citus).</CardDescription>
      ) : null}
      {query.data?.distributed ? (
        <>
          <CardDescription>
            Citus {query.data.citusVersion}: {formatCount(query.data.shardCount)} shards of
            documents, distributed by <code>{query.data.distributionColumn ?? '–'}</code>
            {query.data.collectionRows
              ? `; this collection's rows are on ${query.data.collectionRows.length} of them`
              : ''}
            .
          </CardDescription>
          <Table>
            <TableHeader>
              <TableRow>
                <TableHead>Node</TableHead>
                <TableHead>Role</TableHead>
                <TableHead>Shards</TableHead>
                <TableHead>Size</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {query.data.nodes.map((node) => (
                <TableRow key={`${node.name}:${node.port}`}>
                  <TableCell className="break-all">
                    {node.name}:{node.port}
                    {node.active ? '' : ' (inactive)'}
                  </TableCell>
                  <TableCell>{node.role}</TableCell>
                  <TableCell>{formatCount(node.shards)}</TableCell>
                  <TableCell>{formatBytes(node.bytes)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </>
      ) : null}
    </Card>
  );
}
