import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { IInstanceInfo } from './api/instance';
import type {
  IKernelSnapshotState,
  IRebuildPlan,
  IRestoreReport,
  ISnapshotInfo,
  ISnapshotStatus
} from './api/snapshots';

/**
 * Id of the GPU Guard side panel.
 */
export const PANEL_ID = 'gpuguard-panel';

/**
 * What the instance model knows at a given time.
 */
export interface IInstanceState {
  /**
   * The last answer of the server, or null before the first one.
   */
  readonly info: IInstanceInfo | null;
  /**
   * `Date.now()` when `info` arrived; the session cost ticks from there.
   */
  readonly receivedAt: number;
  /**
   * Why the last request failed (server extension missing or broken), or null.
   */
  readonly error: string | null;
}

/**
 * The instance model: polls `gpuguard/instance` and tells when it changes.
 */
export interface IInstanceModel extends IInstanceState {
  /**
   * Emitted after each answer (or failure) that changes the state.
   */
  readonly changed: ISignal<IInstanceModel, void>;
  /**
   * Resolves once the first detection is over: an answer with
   * `detecting: false`, or a failure of the route.
   */
  readonly ready: Promise<void>;
  /**
   * The polling interval asked for in the settings, in seconds.
   */
  refreshInterval: number;
  /**
   * Ask the server again now.
   */
  refresh(): Promise<void>;
}

/**
 * The instance model token.
 */
export const IInstanceModel = new Token<IInstanceModel>(
  'jupyter-gpuguard:IInstanceModel',
  'What jupyter-gpuguard knows about the machine the server runs on.'
);

/**
 * The snapshots model: polls `gpuguard/status`, keeps the snapshot history of
 * notebooks and runs the snapshot actions.
 */
export interface ISnapshotsModel {
  /**
   * Emitted after each answer, history load or action that changes the state.
   */
  readonly changed: ISignal<ISnapshotsModel, void>;
  /**
   * The last answer of `gpuguard/status`, or null before the first one.
   */
  readonly status: ISnapshotStatus | null;
  /**
   * `Date.now()` when `status` arrived.
   */
  readonly receivedAt: number;
  /**
   * Why the last request failed, or null.
   */
  readonly error: string | null;
  /**
   * Seconds between two requests for the status now.
   */
  readonly pollInterval: number;
  /**
   * The snapshot state of a kernel, or null when the server does not list it.
   */
  kernel(kernelId: string | null | undefined): IKernelSnapshotState | null;
  /**
   * The loaded snapshot history of a notebook, newest first, or null before
   * `loadHistory`.
   */
  history(notebook: string): ISnapshotInfo[] | null;
  /**
   * Why the history of a notebook could not be loaded, or null.
   */
  historyError(notebook: string): string | null;
  /**
   * Load the snapshot history of a notebook; it is then kept up to date.
   */
  loadHistory(
    notebook: string,
    kernelId?: string | null
  ): Promise<ISnapshotInfo[]>;
  /**
   * Whether this browser waits for a snapshot of the kernel.
   */
  isSnapshotting(kernelId: string): boolean;
  /**
   * Whether this browser waits for a restore into the kernel.
   */
  isRestoring(kernelId: string): boolean;
  /**
   * Snapshot a kernel now; resolves once the snapshot is committed.
   */
  snapshot(kernelId: string): Promise<ISnapshotInfo>;
  /**
   * Delete a snapshot.
   */
  delete(snapshot: ISnapshotInfo): Promise<void>;
  /**
   * Restore a snapshot into a kernel.
   */
  restore(
    snapshot: ISnapshotInfo,
    kernelId: string,
    rebuild?: boolean
  ): Promise<IRestoreReport>;
  /**
   * The cells that would rebuild what a snapshot could not save.
   */
  plan(snapshot: ISnapshotInfo): Promise<IRebuildPlan>;
  /**
   * Ask the server for the status again now.
   */
  refresh(): Promise<void>;
}

/**
 * The snapshots model token.
 */
export const ISnapshotsModel = new Token<ISnapshotsModel>(
  'jupyter-gpuguard:ISnapshotsModel',
  'The snapshots of the notebook kernels kept by jupyter-gpuguard.'
);
