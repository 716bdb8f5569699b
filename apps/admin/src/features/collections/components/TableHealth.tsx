import type { RouterOutputs } from '@quarry/api';
import { Stat, Stats } from '../../../components/Stat';
import { ErrorState, Loading } from '../../../components/StatusMessage';
import { Card, CardDescription, CardTitle } from '../../../components/ui/card';
import { Progress } from '../../../components/ui/progress';
import { formatAge, formatBytes, formatCount } from '../../../lib/format';
import type { ApiQuery } from '../../../lib/trpc';

type TableHealthData = NonNullable<RouterOutputs['collections']['get']['table']>;

/** Past this share of dead rows, searches read noticeably more pages than they need. */
const DEAD_TUPLE_WARNING = 0.2;

function BuildProgress({ build }: { build: TableHealthData['indexBuilds'][number] }) {
  const total = build.blocksTotal || build.tuplesTotal;
  const done = build.blocksTotal ? build.blocksDone : build.tuplesDone;
  const share = total > 0 ? done / total : 0;
  return (
    <li className="grid grid-cols-[minmax(0,1fr)_6rem_3rem] items-center gap-2 text-sm">
      <span className="truncate">{build.phase}</span>
      <Progress value={share * 100} aria-label={`index build: ${build.phase}`} />
      <span className="text-right tabular-nums">
        {total > 0 ? `${Math.round(share * 100)}%` : 'starting'}
      </span>
    </li>
  );
}

export function TableHealth({ query }: { query: ApiQuery<RouterOutputs['collections']['get']> }) {
  if (query.isPending) return <Loading what="table health" />;
  if (query.isError)
    return (
      <ErrorState
        error={query.error}
        action="load table health"
        onRetry={() => void query.refetch()}
      />
    );
  const table = query.data.table;
  if (!table)
    return (
      <Card aria-labelledby="table-health">
        <CardTitle id="table-health">Documents table health</CardTitle>
        <CardDescription>
          Not shown to a key bound to a tenant: the table&apos;s figures count every tenant&apos;s
          documents.
        </CardDescription>
      </Card>
    );
  const rows = table.liveTuples + table.deadTuples;
  const deadShare = rows > 0 ? table.deadTuples / rows : 0;
  return (
    <Card aria-labelledby="table-health" className="space-y-3">
      <div>
        <CardTitle id="table-health">Documents table health</CardTitle>
        <CardDescription>
          All collections share one table, so these figures cover every collection.
        </CardDescription>
      </div>
      <Stats>
        <Stat label="Table size">{formatBytes(table.tableBytes)}</Stat>
        <Stat label="Live rows">{formatCount(table.liveTuples)}</Stat>
        <Stat label="Dead rows" tone={deadShare > DEAD_TUPLE_WARNING ? 'warn' : undefined}>
          {formatCount(table.deadTuples)}
          {rows > 0 ? ` (${(deadShare * 100).toFixed(1)}%)` : ''}
          {deadShare > DEAD_TUPLE_WARNING ? ' — run VACUUM' : ''}
        </Stat>
        <Stat label="Last vacuum">
          <time dateTime={table.lastVacuum ?? undefined}>{formatAge(table.lastVacuum)}</time>
        </Stat>
        <Stat label="Last analyze">
          <time dateTime={table.lastAnalyze ?? undefined}>{formatAge(table.lastAnalyze)}</time>
        </Stat>
      </Stats>
      {table.indexBuilds.length > 0 ? (
        <>
          <h3>Index builds in progress</h3>
          <ul className="space-y-1">
            {table.indexBuilds.map((build, position) => (
              <BuildProgress key={position} build={build} />
            ))}
          </ul>
        </>
      ) : (
        <p className="text-xs text-muted-foreground">No index is being built.</p>
      )}
    </Card>
  );
}
