import {
  createSnapshot,
  deleteSnapshot,
  fetchSnapshotStatus,
  IKernelSnapshotState,
  IRebuildPlan,
  IRestoreReport,
  ISnapshotInfo,
  ISnapshotStatus,
  listSnapshots,
  restoreSnapshot,
  fetchRebuildPlan
} from '../api/snapshots';
import { describeError } from '../common/errors';
import { PolledAnswerModel } from '../common/polledModel';
import { ISnapshotsModel } from '../tokens';

/**
 * Seconds between two requests for the status.
 */
export const SNAPSHOT_POLL_INTERVAL = 5;

/**
 * Seconds between two requests while something moves: a snapshot is being
 * written, a kernel is being set up, an emergency runs.
 */
export const SNAPSHOT_FAST_POLL_INTERVAL = 1;

/**
 * The functions the model calls; the REST client by default.
 */
export interface ISnapshotsClient {
  fetchStatus(): Promise<ISnapshotStatus>;
  list(notebook: string, kernelId?: string): Promise<ISnapshotInfo[]>;
  snapshot(kernelId: string): Promise<ISnapshotInfo>;
  delete(snapshotId: string): Promise<void>;
  restore(
    snapshotId: string,
    kernelId: string,
    rebuild?: boolean
  ): Promise<IRestoreReport>;
  plan(snapshotId: string): Promise<IRebuildPlan>;
}

const restClient: ISnapshotsClient = {
  fetchStatus: fetchSnapshotStatus,
  list: listSnapshots,
  snapshot: createSnapshot,
  delete: deleteSnapshot,
  restore: restoreSnapshot,
  plan: fetchRebuildPlan
};

/**
 * Polls `gpuguard/status`, keeps the history of the notebooks shown and runs
 * the snapshot actions.
 */
export class SnapshotsModel
  extends PolledAnswerModel<ISnapshotStatus>
  implements ISnapshotsModel
{
  constructor(options: SnapshotsModel.IOptions = {}) {
    const client = options.client ?? restClient;
    super({
      name: 'jupyter-gpuguard:snapshots',
      interval: SNAPSHOT_POLL_INTERVAL,
      auto: options.auto,
      fetch: () => client.fetchStatus()
    });
    this._client = client;
  }

  get status(): ISnapshotStatus | null {
    return this.answer;
  }

  /**
   * Seconds between two requests for the status now.
   */
  get pollInterval(): number {
    return this.currentInterval();
  }

  kernel(kernelId: string | null | undefined): IKernelSnapshotState | null {
    const status = this.answer;
    if (!kernelId || !status) {
      return null;
    }
    return status.kernels.find(k => k.kernel_id === kernelId) ?? null;
  }

  history(notebook: string): ISnapshotInfo[] | null {
    return this._histories.get(notebook)?.items ?? null;
  }

  historyError(notebook: string): string | null {
    return this._histories.get(notebook)?.error ?? null;
  }

  async loadHistory(
    notebook: string,
    kernelId?: string | null
  ): Promise<ISnapshotInfo[]> {
    let entry = this._histories.get(notebook);
    if (!entry) {
      entry = {
        items: null,
        error: null,
        loading: null,
        again: false,
        kernelId: null
      };
      this._histories.set(notebook, entry);
    }
    if (kernelId) {
      // Its snapshots taken before a rename are the notebook's too.
      entry.kernelId = kernelId;
    }
    if (entry.loading) {
      // An answer is on its way; ask once more after it, it may be stale.
      entry.again = true;
      return entry.loading;
    }
    const load = async (): Promise<ISnapshotInfo[]> => {
      const current = entry!;
      try {
        do {
          current.again = false;
          try {
            current.items = await this._client.list(
              notebook,
              current.kernelId ?? undefined
            );
            current.error = null;
          } catch (reason) {
            current.error = describeError(reason);
            if (current.items === null) {
              throw reason;
            }
          }
        } while (current.again && !this.isDisposed);
        return current.items ?? [];
      } finally {
        current.loading = null;
        if (!this.isDisposed) {
          this.emitChanged();
        }
      }
    };
    entry.loading = load();
    return entry.loading;
  }

  isSnapshotting(kernelId: string): boolean {
    return this._snapshotting.has(kernelId);
  }

  isRestoring(kernelId: string): boolean {
    return this._restoring.has(kernelId);
  }

  async snapshot(kernelId: string): Promise<ISnapshotInfo> {
    const running = this._snapshotting.get(kernelId);
    if (running) {
      return running;
    }
    const promise = this._client.snapshot(kernelId);
    this._snapshotting.set(kernelId, promise);
    this.emitChanged();
    // Poll fast while it is written.
    this.reschedule();
    try {
      const info = await promise;
      if (info.notebook && this._histories.has(info.notebook)) {
        await this.loadHistory(info.notebook).catch(() => undefined);
      }
      return info;
    } finally {
      this._snapshotting.delete(kernelId);
      this.emitChanged();
      void this.refresh().catch(() => undefined);
    }
  }

  async delete(snapshot: ISnapshotInfo): Promise<void> {
    await this._client.delete(snapshot.id);
    for (const [notebook, entry] of this._histories) {
      if (entry.items?.some(item => item.id === snapshot.id)) {
        entry.items = entry.items.filter(item => item.id !== snapshot.id);
        void this.loadHistory(notebook).catch(() => undefined);
      }
    }
    this.emitChanged();
    void this.refresh().catch(() => undefined);
  }

  plan(snapshot: ISnapshotInfo): Promise<IRebuildPlan> {
    return this._client.plan(snapshot.id);
  }

  async restore(
    snapshot: ISnapshotInfo,
    kernelId: string,
    rebuild = false
  ): Promise<IRestoreReport> {
    this._restoring.add(kernelId);
    this.emitChanged();
    try {
      return await this._client.restore(snapshot.id, kernelId, rebuild);
    } finally {
      this._restoring.delete(kernelId);
      this.emitChanged();
      void this.refresh().catch(() => undefined);
    }
  }

  /**
   * Reload the histories shown whose newest snapshot changed.
   */
  protected received(status: ISnapshotStatus): void {
    for (const kernel of status.kernels) {
      const id = kernel.last_snapshot?.id ?? null;
      const before = this._lastIds.get(kernel.kernel_id);
      this._lastIds.set(kernel.kernel_id, id);
      if (id === null || id === before) {
        continue;
      }
      const notebook = kernel.last_snapshot?.notebook ?? kernel.notebook;
      for (const [path, entry] of this._histories) {
        const shows = path === notebook || entry.kernelId === kernel.kernel_id;
        if (shows && !entry.items?.some(item => item.id === id)) {
          void this.loadHistory(path).catch(() => undefined);
        }
      }
    }
    // A snapshot that reached the replica now lives in both places.
    const uploaded = status.replica.last_upload?.id ?? null;
    if (uploaded !== null && uploaded !== this._lastUploaded) {
      for (const [notebook, entry] of this._histories) {
        if (entry.items?.some(item => item.id === uploaded)) {
          void this.loadHistory(notebook).catch(() => undefined);
        }
      }
    }
    this._lastUploaded = uploaded;
    const known = new Set(status.kernels.map(k => k.kernel_id));
    for (const kernelId of this._lastIds.keys()) {
      if (!known.has(kernelId)) {
        this._lastIds.delete(kernelId);
      }
    }
  }

  /**
   * Fast while something moves: a snapshot is being written, a kernel is
   * being set up, an emergency runs.
   */
  protected currentInterval(): number {
    const status = this.answer;
    const moving =
      this._snapshotting.size > 0 ||
      (status !== null &&
        ((status.emergency !== null && status.emergency.finished === null) ||
          status.kernels.some(
            k =>
              k.in_flight ||
              // An idle kernel is set up within a few seconds.
              (k.supported !== false &&
                !k.attached &&
                !k.reason &&
                k.state === 'idle')
          )));
    return moving ? SNAPSHOT_FAST_POLL_INTERVAL : SNAPSHOT_POLL_INTERVAL;
  }

  private _client: ISnapshotsClient;
  private _histories = new Map<
    string,
    {
      items: ISnapshotInfo[] | null;
      error: string | null;
      loading: Promise<ISnapshotInfo[]> | null;
      again: boolean;
      kernelId: string | null;
    }
  >();
  private _lastIds = new Map<string, string | null>();
  private _lastUploaded: string | null = null;
  private _restoring = new Set<string>();
  private _snapshotting = new Map<string, Promise<ISnapshotInfo>>();
}

export namespace SnapshotsModel {
  export interface IOptions {
    /**
     * How to ask the server; the REST routes by default.
     */
    client?: ISnapshotsClient;
    /**
     * Whether to start polling at once (default true).
     */
    auto?: boolean;
  }
}
