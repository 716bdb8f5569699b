import type { PartitionEvent } from '@quarry/db/partition';
import { createProgress, type Progress } from '../progress';

/**
 * What `quarry partition` prints as it goes: a line per step on stdout, and the backfill and the
 * index builds as progress (a bar on a terminal, a line every few seconds in a log) on stderr.
 */
export function partitionReporter(io: {
  out(text: string): void;
  err(text: string): void;
  stderrIsTTY: boolean;
}): (event: PartitionEvent) => void {
  let backfill: Progress | undefined;
  let indexes: Progress | undefined;
  let copiedBefore = 0;
  const progress = (label: string, total: number, doneAtStart = 0) =>
    createProgress({
      label,
      total,
      doneAtStart,
      interactive: io.stderrIsTTY,
      write: (text) => io.err(text),
    });
  return (event) => {
    switch (event.step) {
      case 'prepare':
        io.out(
          `prepare: made documents_partitioned with ${event.partitions} partitions; writes to documents are mirrored into it from now on (${event.rows.toLocaleString('en-US')} rows to copy)\n`,
        );
        return;
      case 'resume':
        copiedBefore = event.copied;
        io.out(
          `resume: a run stopped at step ${event.from} with ${event.copied.toLocaleString('en-US')} rows copied; going on from there\n`,
        );
        return;
      case 'backfill':
        backfill ??= progress('backfill', event.total, copiedBefore);
        backfill.setTotal(event.total);
        backfill.update(event.copied);
        return;
      case 'index':
        if (backfill) {
          backfill.finish();
          backfill = undefined;
        }
        indexes ??= progress('indexes', event.total);
        indexes.update(event.done);
        if (event.done === event.total) indexes.finish();
        else io.out(`index: building ${event.name} on every partition\n`);
        return;
      case 'switch':
        io.out(
          `switch: documents is now the partitioned table (${event.rows.toLocaleString('en-US')} rows, counts checked under the lock)\n`,
        );
        return;
      case 'cleanup':
        io.out(
          event.keptOld
            ? 'cleanup: kept the old table as documents_unpartitioned\n'
            : 'cleanup: dropped the old table\n',
        );
        return;
      case 'done':
        io.out(
          `done: documents has ${event.partitions} partitions and ${event.rows.toLocaleString('en-US')} rows\n`,
        );
    }
  };
}
