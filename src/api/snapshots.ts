import {
  booleanOrNull,
  fieldsOf,
  listOf,
  numberOr,
  objectOrNull,
  requestAnswer,
  requestAPI,
  textListOf,
  textOf,
  textOrNull
} from './request';
import { IReplicaStatus, readReplicaStatus } from './replica';

/**
 * One variable kept in a snapshot.
 */
export interface ISnapshotVariable {
  name: string;
  type: string;
  bytes: number;
}

/**
 * One variable a snapshot left out, and why.
 */
export interface ISkippedVariable {
  name: string;
  type: string;
  reason: string;
}

/**
 * A snapshot of a kernel's variables.
 */
export interface ISnapshotInfo {
  id: string;
  /**
   * ISO 8601 time of the snapshot.
   */
  created: string;
  notebook: string | null;
  kernel_id: string | null;
  variables: ISnapshotVariable[];
  skipped: ISkippedVariable[];
  /**
   * Size of the variables, in bytes.
   */
  bytes_total: number;
  /**
   * Bytes this snapshot added to the store (unchanged data is shared).
   */
  bytes_written: number;
  /**
   * Imported modules: alias -> module.
   */
  modules: { [alias: string]: string };
  /**
   * The kernel's next cell number when the snapshot was taken.
   */
  execution_count: number | null;
  duration_seconds: number | null;
  notes: string[];
  /**
   * Where it lives: "disk" (this machine's store), "replica", or both.
   */
  where: string[];
}

/**
 * The snapshot state of one kernel, from `GET gpuguard/status`.
 */
export interface IKernelSnapshotState {
  kernel_id: string;
  notebook: string | null;
  language: string | null;
  /**
   * Execution state: "idle", "busy", "starting"...
   */
  state: string | null;
  /**
   * Whether the kernel can be snapshotted; null until known.
   */
  supported: boolean | null;
  /**
   * Why it is not supported, or why snapshots could not be set up.
   */
  reason: string;
  attached: boolean;
  /**
   * A snapshot is being written.
   */
  in_flight: boolean;
  last_snapshot: ISnapshotInfo | null;
  /**
   * Unix time (seconds) of the last snapshot.
   */
  last_snapshot_at: number | null;
  last_error: string | null;
  /**
   * Unix time (seconds) of the next automatic snapshot.
   */
  next_due: number | null;
  /**
   * The kernel's next cell number: 1 means nothing ran yet; null when unknown.
   */
  execution_count: number | null;
}

/**
 * What an emergency snapshot did for one kernel.
 */
export interface IEmergencyResult {
  snapshot: string | null;
  error: string | null;
}

/**
 * A snapshot of every kernel at once, after a preemption notice or SIGTERM.
 */
export interface IEmergency {
  reason: string;
  /**
   * Unix time (seconds).
   */
  started: number;
  /**
   * Unix time (seconds); null while it runs.
   */
  finished: number | null;
  kernels: { [kernelId: string]: IEmergencyResult };
  /**
   * The upload of its snapshots to the replica, when there is one.
   */
  replica: IEmergencyUpload | null;
}

/**
 * How an emergency's upload to the replica goes, against the deadline.
 */
export interface IEmergencyUpload {
  url: string | null;
  bytes_left: number | null;
  /**
   * Unix time (seconds) by which it must be done.
   */
  deadline: number | null;
  error: string | null;
  done: boolean;
}

/**
 * Where snapshots are stored.
 */
export interface ISnapshotStore {
  path: string;
  bytes: number;
  /**
   * Whether the store outlives the machine; null when unknown.
   */
  persistent: boolean | null;
  persistent_reason: string;
  /**
   * Manifests the store skips (damaged or not ours), each "<id>: why".
   */
  problems: string[];
}

/**
 * The answer of `GET gpuguard/status`.
 */
export interface ISnapshotStatus {
  kernels: IKernelSnapshotState[];
  /**
   * Seconds between automatic snapshots; 0 when they are off.
   */
  interval_seconds: number;
  interval_reason: string;
  emergency: IEmergency | null;
  /**
   * Why the last background prune failed; null when it worked.
   */
  prune_error: string | null;
  store: ISnapshotStore;
  replica: IReplicaStatus;
}

/**
 * The cell that defined a variable, to run again.
 */
export interface IDefiningCell {
  execution_count: number | null;
  source: string;
}

/**
 * A variable a restore left out.
 */
export interface IRestoreSkipped extends ISkippedVariable {
  defined_in: IDefiningCell | null;
}

/**
 * A cell a rebuild re-runs.
 */
export interface IPlannedCell {
  execution_count: number;
  source: string;
  /**
   * Why re-running it may give another result or act twice (network, files, …).
   */
  flags: string[];
  /**
   * The variables it helps rebuild.
   */
  rebuilds: string[];
}

/**
 * The cells that rebuild what a snapshot could not save
 * (`GET gpuguard/snapshots/{id}/plan`).
 */
export interface IRebuildPlan {
  /**
   * E.g. "Rebuild gen, conn by re-running 2 cells (cells 4, 9)?"
   */
  summary: string;
  targets: string[];
  rebuildable: string[];
  cells: IPlannedCell[];
  /**
   * Why a variable cannot be rebuilt, by name.
   */
  unrebuildable: Record<string, string>;
}

/**
 * The answer of `POST gpuguard/snapshots/{id}/restore`.
 */
export interface IRestoreReport {
  snapshot: string;
  restored: string[];
  modules: string[];
  skipped: IRestoreSkipped[];
  failed: { name: string; error: string }[];
  notes: string[];
  /**
   * Variables brought back by re-running their cells.
   */
  rebuilt: string[];
  replayed: { execution_count: number; ok: boolean; error: string | null }[];
  plan: IRebuildPlan | null;
}

/**
 * Every kernel's snapshot state.
 */
export function fetchSnapshotStatus(): Promise<ISnapshotStatus> {
  return requestAnswer('status', readSnapshotStatus);
}

/**
 * The snapshots of a notebook (every snapshot without one), newest first, and
 * those `kernelId` took under an earlier name of the notebook.
 */
export function listSnapshots(
  notebook?: string,
  kernelId?: string
): Promise<ISnapshotInfo[]> {
  const params = new URLSearchParams();
  if (notebook) {
    params.set('notebook', notebook);
    if (kernelId) {
      params.set('kernel_id', kernelId);
    }
  }
  const query = params.toString() ? `?${params.toString()}` : '';
  return requestAnswer(`snapshots${query}`, answer =>
    listOf(answer, readSnapshotInfo)
  );
}

/**
 * Snapshot a kernel now; resolves once the snapshot is committed.
 */
export function createSnapshot(kernelId: string): Promise<ISnapshotInfo> {
  return requestAnswer('snapshots', readSnapshotInfo, {
    method: 'POST',
    body: JSON.stringify({ kernel_id: kernelId })
  });
}

/**
 * Delete a snapshot.
 */
export async function deleteSnapshot(snapshotId: string): Promise<void> {
  await requestAPI(snapshotPath(snapshotId), { method: 'DELETE' });
}

/**
 * Restore a snapshot into a running kernel.
 */
export function restoreSnapshot(
  snapshotId: string,
  kernelId: string,
  rebuild = false
): Promise<IRestoreReport> {
  return requestAnswer(
    `${snapshotPath(snapshotId)}/restore`,
    answer => readRestoreReport(answer, snapshotId),
    {
      method: 'POST',
      body: JSON.stringify({ kernel_id: kernelId, rebuild })
    }
  );
}

/**
 * What restoring a snapshot would re-run to rebuild what it could not save.
 */
export function fetchRebuildPlan(snapshotId: string): Promise<IRebuildPlan> {
  return requestAnswer(`${snapshotPath(snapshotId)}/plan`, readRebuildPlan);
}

function snapshotPath(snapshotId: string): string {
  return `snapshots/${encodeURIComponent(snapshotId)}`;
}

/**
 * Read an answer of `gpuguard/status`.
 *
 * @throws When it lists no kernels: that is not our server extension.
 */
export function readSnapshotStatus(data: unknown): ISnapshotStatus {
  const answer = fieldsOf(data);
  if (!Array.isArray(answer.kernels)) {
    throw new Error('unexpected answer from gpuguard/status');
  }
  const store = fieldsOf(answer.store);
  return {
    kernels: listOf(answer.kernels, readKernelState),
    interval_seconds: numberOr(answer.interval_seconds, 0),
    interval_reason: textOf(answer.interval_reason),
    emergency: readEmergency(answer.emergency),
    prune_error: textOrNull(answer.prune_error),
    store: {
      path: textOf(store.path),
      bytes: numberOr(store.bytes, 0),
      persistent: booleanOrNull(store.persistent),
      persistent_reason: textOf(store.persistent_reason),
      problems: textListOf(store.problems)
    },
    replica: readReplicaStatus(answer.replica)
  };
}

function readKernelState(data: unknown): IKernelSnapshotState {
  const kernel = fieldsOf(data);
  return {
    kernel_id: textOf(kernel.kernel_id),
    notebook: textOrNull(kernel.notebook),
    language: textOrNull(kernel.language),
    state: textOrNull(kernel.state),
    supported: booleanOrNull(kernel.supported),
    reason: textOf(kernel.reason),
    attached: kernel.attached === true,
    in_flight: kernel.in_flight === true,
    last_snapshot: objectOrNull(kernel.last_snapshot, readSnapshotInfo),
    last_snapshot_at: numberOr(kernel.last_snapshot_at, null),
    last_error: textOrNull(kernel.last_error),
    next_due: numberOr(kernel.next_due, null),
    execution_count: numberOr(kernel.execution_count, null)
  };
}

/**
 * An emergency, or null when there is none or it does not say when it started.
 */
function readEmergency(data: unknown): IEmergency | null {
  const emergency = fieldsOf(data);
  if (typeof emergency.started !== 'number') {
    return null;
  }
  const kernels: { [kernelId: string]: IEmergencyResult } = {};
  for (const [kernelId, result] of Object.entries(
    fieldsOf(emergency.kernels)
  )) {
    const fields = fieldsOf(result);
    kernels[kernelId] = {
      snapshot: textOrNull(fields.snapshot),
      error: textOrNull(fields.error)
    };
  }
  return {
    reason: textOf(emergency.reason),
    started: emergency.started,
    finished: numberOr(emergency.finished, null),
    kernels,
    replica: objectOrNull(emergency.replica, upload => {
      const fields = fieldsOf(upload);
      return {
        url: textOrNull(fields.url),
        bytes_left: numberOr(fields.bytes_left, null),
        deadline: numberOr(fields.deadline, null),
        error: textOrNull(fields.error),
        done: fields.done === true
      };
    })
  };
}

/**
 * Read a snapshot as the server lists it.
 */
export function readSnapshotInfo(data: unknown): ISnapshotInfo {
  const snapshot = fieldsOf(data);
  return {
    id: textOf(snapshot.id),
    created: textOf(snapshot.created),
    notebook: textOrNull(snapshot.notebook),
    kernel_id: textOrNull(snapshot.kernel_id),
    variables: listOf<ISnapshotVariable>(snapshot.variables),
    skipped: listOf<ISkippedVariable>(snapshot.skipped),
    bytes_total: numberOr(snapshot.bytes_total, 0),
    bytes_written: numberOr(snapshot.bytes_written, 0),
    modules: fieldsOf(snapshot.modules) as ISnapshotInfo['modules'],
    execution_count: numberOr(snapshot.execution_count, null),
    duration_seconds: numberOr(snapshot.duration_seconds, null),
    notes: textListOf(snapshot.notes),
    where: textListOf(snapshot.where ?? ['disk'])
  };
}

/**
 * Read a restore report; `snapshotId` names the snapshot when it does not.
 */
export function readRestoreReport(
  data: unknown,
  snapshotId: string
): IRestoreReport {
  const report = fieldsOf(data);
  return {
    snapshot: textOf(report.snapshot, snapshotId),
    restored: textListOf(report.restored),
    modules: textListOf(report.modules),
    skipped: listOf(report.skipped, readRestoreSkipped),
    failed: listOf<IRestoreReport['failed'][number]>(report.failed),
    notes: textListOf(report.notes),
    rebuilt: textListOf(report.rebuilt),
    replayed: listOf<IRestoreReport['replayed'][number]>(report.replayed),
    plan: objectOrNull(report.plan, readRebuildPlan)
  };
}

function readRestoreSkipped(data: unknown): IRestoreSkipped {
  const skipped = fieldsOf(data);
  return {
    name: textOf(skipped.name),
    type: textOf(skipped.type),
    reason: textOf(skipped.reason),
    defined_in: objectOrNull(skipped.defined_in, cell => {
      const fields = fieldsOf(cell);
      return {
        execution_count: numberOr(fields.execution_count, null),
        source: textOf(fields.source)
      };
    })
  };
}

/**
 * Read a rebuild plan.
 */
export function readRebuildPlan(data: unknown): IRebuildPlan {
  const plan = fieldsOf(data);
  return {
    summary: textOf(plan.summary),
    targets: textListOf(plan.targets),
    rebuildable: textListOf(plan.rebuildable),
    cells: listOf<IPlannedCell>(plan.cells),
    unrebuildable: fieldsOf(plan.unrebuildable) as Record<string, string>
  };
}
