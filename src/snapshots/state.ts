import { TranslationBundle } from '@jupyterlab/translation';

import type {
  IKernelSnapshotState,
  ISnapshotInfo,
  ISnapshotStatus
} from '../api/snapshots';
import { formatBytes, formatClock, formatIn } from '../common/format';

/**
 * `Date.now()` of the last snapshot of a kernel, or null.
 */
export function lastSnapshotTime(kernel: IKernelSnapshotState): number | null {
  if (kernel.last_snapshot_at !== null && kernel.last_snapshot_at > 0) {
    return kernel.last_snapshot_at * 1000;
  }
  return kernel.last_snapshot ? snapshotTime(kernel.last_snapshot) : null;
}

/**
 * `Date.now()` of a snapshot, or NaN when its time cannot be read.
 */
export function snapshotTime(snapshot: ISnapshotInfo): number {
  return Date.parse(snapshot.created);
}

/**
 * Whether cells ran since the last snapshot: true, false, or null when the
 * server does not know the kernel's cell number.
 */
export function hasUnsavedWork(kernel: IKernelSnapshotState): boolean | null {
  const count = kernel.execution_count;
  if (count === null || count === undefined) {
    return null;
  }
  if (count <= 1) {
    // Nothing ran in this kernel yet: nothing to save.
    return false;
  }
  const last = kernel.last_snapshot;
  return last === null || last.execution_count !== count;
}

/**
 * Whether the automatic snapshot of a kernel is late: due more than two polls
 * ago, with cells run since the last snapshot.
 *
 * @param tick Seconds between two looks at the status.
 */
export function isOverdue(
  kernel: IKernelSnapshotState,
  status: ISnapshotStatus,
  now: number,
  tick: number
): boolean {
  if (
    status.interval_seconds <= 0 ||
    kernel.next_due === null ||
    kernel.supported === false ||
    kernel.in_flight ||
    // The scheduler waits for the running cell.
    kernel.state === 'busy'
  ) {
    return false;
  }
  if (hasUnsavedWork(kernel) !== true) {
    return false;
  }
  return now > kernel.next_due * 1000 + 2 * tick * 1000;
}

/**
 * When the next automatic snapshot comes, in words.
 */
export function nextSnapshotText(
  kernel: IKernelSnapshotState,
  status: ISnapshotStatus,
  now: number,
  trans: TranslationBundle
): string {
  if (status.interval_seconds <= 0) {
    return trans.__('automatic snapshots are off');
  }
  if (kernel.supported === false) {
    return trans.__('never: not supported');
  }
  if (!kernel.attached) {
    return kernel.state === 'busy'
      ? trans.__('once the running cell has finished')
      : trans.__('once snapshots are set up in the kernel');
  }
  const unsaved = hasUnsavedWork(kernel);
  if (unsaved === false) {
    return trans.__('when a cell has run');
  }
  if (kernel.next_due === null) {
    return trans.__('unknown');
  }
  const due = kernel.next_due * 1000;
  if (due > now) {
    return formatIn(due, now, trans);
  }
  return kernel.state === 'busy'
    ? trans.__('once the running cell has finished')
    : trans.__('now');
}

/**
 * E.g. `2 variables (1.3 kB)`.
 */
export function variablesText(
  snapshot: ISnapshotInfo,
  trans: TranslationBundle
): string {
  return trans._n(
    '%1 variable (%2)',
    '%1 variables (%2)',
    snapshot.variables.length,
    formatBytes(snapshot.bytes_total)
  );
}

/**
 * E.g. `14:02`, or `Nov 25 14:02` before today.
 */
export function snapshotClock(snapshot: ISnapshotInfo): string {
  const time = snapshotTime(snapshot);
  return isNaN(time) ? snapshot.created : formatClock(time);
}

/**
 * Where a snapshot lives, in words.
 */
export function whereText(where: string[], trans: TranslationBundle): string {
  const disk = where.includes('disk');
  const replica = where.includes('replica');
  if (disk && replica) {
    return trans.__('this disk and the replica');
  }
  return replica ? trans.__('on the replica only') : trans.__('this disk');
}
