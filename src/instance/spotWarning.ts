import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';

import type { IInstanceInfo } from '../api/instance';
import { basename } from '../common/format';
import { showPanelAction } from '../common/notify';
import { PrefixedStorage } from '../common/storage';
import { IInstanceModel } from '../tokens';

/**
 * The notebook paths warned in this browser session.
 */
const warnedNotebooks = new PrefixedStorage(
  'session',
  'jupyter-gpuguard:spot-warned:'
);

/**
 * Warns once per notebook path and browser session when a notebook kernel
 * runs on a spot instance.
 */
export class SpotKernelWarner implements IDisposable {
  constructor(options: SpotKernelWarner.IOptions) {
    this._model = options.model;
    this._tracker = options.tracker;
    this._trans = options.trans;
    this._showPanel = options.showPanel;
    this._tracker.widgetAdded.connect(this._onWidgetAdded, this);
    this._tracker.forEach(panel => this._watch(panel));
  }

  /**
   * Whether to warn (settings `spotWarning`).
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
    this._tracker.widgetAdded.disconnect(this._onWidgetAdded, this);
    for (const panel of this._watched) {
      panel.sessionContext.kernelChanged.disconnect(
        this._onKernelChanged,
        this
      );
    }
    this._watched.clear();
  }

  private _onWidgetAdded(_: INotebookTracker, panel: NotebookPanel): void {
    this._watch(panel);
  }

  private _watch(panel: NotebookPanel): void {
    if (this._watched.has(panel)) {
      return;
    }
    this._watched.add(panel);
    const sessionContext = panel.sessionContext;
    sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    panel.disposed.connect(() => {
      sessionContext.kernelChanged.disconnect(this._onKernelChanged, this);
      this._watched.delete(panel);
    });
    void sessionContext.ready.then(() => this._check(panel));
  }

  private _onKernelChanged(
    sessionContext: NotebookPanel['sessionContext']
  ): void {
    for (const panel of this._watched) {
      if (panel.sessionContext === sessionContext) {
        void this._check(panel);
      }
    }
  }

  private async _check(panel: NotebookPanel): Promise<void> {
    if (panel.isDisposed || !panel.sessionContext.session?.kernel) {
      return;
    }
    const info = await Private.whenKnown(this._model);
    if (
      this._isDisposed ||
      !this.enabled ||
      panel.isDisposed ||
      info.interruptible !== true ||
      !panel.sessionContext.session?.kernel
    ) {
      return;
    }
    const path = panel.context.path;
    if (warnedNotebooks.get(path) !== null || this._pending.has(path)) {
      return;
    }
    this._pending.add(path);
    warnedNotebooks.set(path, String(Date.now()));
    Notification.warning(
      this._trans.__(
        'The kernel of %1 runs on a spot instance and can vanish without notice. Use snapshots or an on-demand pod to keep your work.',
        Private.shorten(basename(path), 24)
      ),
      {
        autoClose: 20000,
        actions: [showPanelAction(this._trans, this._showPanel)]
      }
    );
  }

  private _isDisposed = false;
  private _model: IInstanceModel;
  private _pending = new Set<string>();
  private _showPanel: () => void;
  private _trans: TranslationBundle;
  private _tracker: INotebookTracker;
  private _watched = new Set<NotebookPanel>();
}

export namespace SpotKernelWarner {
  export interface IOptions {
    model: IInstanceModel;
    tracker: INotebookTracker;
    trans: TranslationBundle;
    showPanel: () => void;
  }
}

namespace Private {
  /**
   * Resolves with the first answer that is not a running detection.
   */
  export function whenKnown(model: IInstanceModel): Promise<IInstanceInfo> {
    const known = () =>
      model.info && !model.info.detecting && !model.error ? model.info : null;
    const info = known();
    if (info) {
      return Promise.resolve(info);
    }
    return new Promise(resolve => {
      const onChanged = () => {
        const info = known();
        if (info) {
          model.changed.disconnect(onChanged);
          resolve(info);
        }
      };
      model.changed.connect(onChanged);
    });
  }

  export function shorten(text: string, max: number): string {
    return text.length > max ? text.slice(0, max - 1) + '…' : text;
  }
}
