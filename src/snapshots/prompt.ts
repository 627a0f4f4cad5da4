import { ISessionContext } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';

import type { ISnapshotInfo } from '../api/snapshots';
import { PrefixedStorage } from '../common/storage';
import { ISnapshotsModel } from '../tokens';
import { SnapshotActions } from './actions';
import { describeNotebook, OpenNotebooks } from './notebooks';

/**
 * The kernels offered a restore in this browser session.
 */
const offeredKernels = new PrefixedStorage(
  'session',
  'jupyter-gpuguard:restore-offered:'
);

/**
 * Offers to restore the newest snapshot of a notebook when its kernel is set
 * up and nothing ran in it yet: once per kernel and browser session, and again
 * after this browser restarts the kernel.
 */
export class RestorePrompter implements IDisposable {
  constructor(options: RestorePrompter.IOptions) {
    this._model = options.model;
    this._notebooks = options.notebooks;
    this._actions = options.actions;
    this._model.changed.connect(this._check, this);
    this._notebooks.changed.connect(this._onNotebooksChanged, this);
    this._onNotebooksChanged();
  }

  /**
   * Whether to offer restores (settings `restorePrompt`).
   */
  enabled = true;

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._model.changed.disconnect(this._check, this);
    this._notebooks.changed.disconnect(this._onNotebooksChanged, this);
    for (const sessionContext of this._watched) {
      sessionContext.statusChanged.disconnect(this._onStatusChanged, this);
    }
    this._watched.clear();
  }

  private _onNotebooksChanged(): void {
    for (const notebook of this._notebooks.all()) {
      const sessionContext = notebook.panel.sessionContext;
      if (!this._watched.has(sessionContext)) {
        this._watched.add(sessionContext);
        sessionContext.statusChanged.connect(this._onStatusChanged, this);
        notebook.panel.disposed.connect(() => {
          sessionContext.statusChanged.disconnect(this._onStatusChanged, this);
          this._watched.delete(sessionContext);
        });
      }
    }
    this._check();
  }

  private _onStatusChanged(
    sessionContext: ISessionContext,
    status: Kernel.Status
  ): void {
    if (status === 'restarting' || status === 'autorestarting') {
      // A new process: nothing ran in it, it may get its variables back.
      const kernelId = sessionContext.session?.kernel?.id;
      if (kernelId) {
        offeredKernels.remove(kernelId);
        this._empty.delete(kernelId);
      }
    }
  }

  private _check(): void {
    if (this._isDisposed || !this.enabled) {
      return;
    }
    for (const notebook of this._notebooks.all()) {
      const kernelId = notebook.kernelId;
      const kernel = this._model.kernel(kernelId);
      if (
        !kernelId ||
        !kernel ||
        !kernel.attached ||
        kernel.supported === false ||
        kernel.execution_count !== 1 ||
        this._pending.has(kernelId) ||
        this._empty.has(kernelId) ||
        offeredKernels.get(kernelId) !== null
      ) {
        continue;
      }
      void this._offer(notebook.panel, kernelId, kernel.notebook);
    }
  }

  private async _offer(
    panel: NotebookPanel,
    kernelId: string,
    serverPath: string | null
  ): Promise<void> {
    this._pending.add(kernelId);
    try {
      const path = serverPath || describeNotebook(panel).path;
      let history: ISnapshotInfo[];
      try {
        history = await this._model.loadHistory(path);
      } catch {
        return; // try again on the next answer
      }
      // The newest snapshot that holds something.
      const snapshot = history.find(item => item.variables.length > 0);
      if (!snapshot) {
        this._empty.add(kernelId);
        return;
      }
      const stillFresh = () => {
        const kernel = this._model.kernel(kernelId);
        return (
          !this._isDisposed &&
          this.enabled &&
          !panel.isDisposed &&
          panel.sessionContext.session?.kernel?.id === kernelId &&
          kernel !== null &&
          kernel.execution_count === 1
        );
      };
      if (!stillFresh()) {
        return;
      }
      offeredKernels.set(kernelId, String(Date.now()));
      // One dialog at a time.
      this._queue = this._queue.then(async () => {
        if (!stillFresh()) {
          return;
        }
        await this._actions.offerRestore(
          snapshot,
          kernelId,
          describeNotebook(panel).name
        );
      });
      await this._queue;
    } finally {
      this._pending.delete(kernelId);
    }
  }

  private _actions: SnapshotActions;
  /**
   * Kernels whose notebook has no snapshot.
   */
  private _empty = new Set<string>();
  private _isDisposed = false;
  private _model: ISnapshotsModel;
  private _notebooks: OpenNotebooks;
  private _pending = new Set<string>();
  private _queue: Promise<void> = Promise.resolve();
  private _watched = new Set<ISessionContext>();
}

export namespace RestorePrompter {
  export interface IOptions {
    model: ISnapshotsModel;
    notebooks: OpenNotebooks;
    actions: SnapshotActions;
  }
}
