import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { basename } from '../common/format';

/**
 * An open notebook and its kernel.
 */
export interface IOpenNotebook {
  panel: NotebookPanel;
  /**
   * The path of the session: the server files the snapshots under it.
   */
  path: string;
  /**
   * The name shown in the notebook's tab.
   */
  name: string;
  kernelId: string | null;
}

/**
 * Describe an open notebook.
 */
export function describeNotebook(panel: NotebookPanel): IOpenNotebook {
  const sessionContext = panel.sessionContext;
  const local = panel.context.localPath;
  return {
    panel,
    path: sessionContext.session?.path || local,
    name: basename(local),
    kernelId: sessionContext.session?.kernel?.id ?? null
  };
}

/**
 * Follows the open notebooks, their paths and their kernels.
 */
export class OpenNotebooks implements IDisposable {
  constructor(tracker: INotebookTracker) {
    this._tracker = tracker;
    tracker.widgetAdded.connect(this._onAdded, this);
    tracker.currentChanged.connect(this._emit, this);
    tracker.forEach(panel => this._watch(panel));
  }

  /**
   * Emitted when a notebook opens or closes, is renamed, or changes kernel, and
   * when the current notebook changes.
   */
  get changed(): ISignal<OpenNotebooks, void> {
    return this._changed;
  }

  get tracker(): INotebookTracker {
    return this._tracker;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The open notebooks, in the order they were opened.
   */
  all(): IOpenNotebook[] {
    const result: IOpenNotebook[] = [];
    this._tracker.forEach(panel => {
      if (!panel.isDisposed) {
        result.push(describeNotebook(panel));
      }
    });
    return result;
  }

  /**
   * The current notebook, or null.
   */
  current(): IOpenNotebook | null {
    const panel = this._tracker.currentWidget;
    return panel && !panel.isDisposed ? describeNotebook(panel) : null;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._tracker.widgetAdded.disconnect(this._onAdded, this);
    this._tracker.currentChanged.disconnect(this._emit, this);
    for (const panel of this._watched) {
      this._unwatch(panel);
    }
    Signal.clearData(this);
  }

  private _onAdded(_: INotebookTracker, panel: NotebookPanel): void {
    this._watch(panel);
    this._emit();
  }

  private _watch(panel: NotebookPanel): void {
    if (this._watched.has(panel)) {
      return;
    }
    this._watched.add(panel);
    panel.sessionContext.kernelChanged.connect(this._emit, this);
    panel.sessionContext.sessionChanged.connect(this._emit, this);
    panel.sessionContext.propertyChanged.connect(this._emit, this);
    panel.context.pathChanged.connect(this._emit, this);
    panel.disposed.connect(this._onDisposed, this);
  }

  private _unwatch(panel: NotebookPanel): void {
    this._watched.delete(panel);
    panel.sessionContext.kernelChanged.disconnect(this._emit, this);
    panel.sessionContext.sessionChanged.disconnect(this._emit, this);
    panel.sessionContext.propertyChanged.disconnect(this._emit, this);
    panel.context.pathChanged.disconnect(this._emit, this);
    panel.disposed.disconnect(this._onDisposed, this);
  }

  private _onDisposed(panel: NotebookPanel): void {
    this._unwatch(panel);
    this._emit();
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _changed = new Signal<OpenNotebooks, void>(this);
  private _isDisposed = false;
  private _tracker: INotebookTracker;
  private _watched = new Set<NotebookPanel>();
}
