import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';

import type { IInstanceInfo } from '../api/instance';
import { basename, formatCountdown, msUntil } from '../common/format';
import { PrefixedStorage } from '../common/storage';
import { IInstanceModel } from '../tokens';
import { noticeKey } from './info';

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
        actions: [
          {
            label: this._trans.__('Show GPU Guard'),
            caption: this._trans.__('Open the GPU Guard panel'),
            callback: () => this._showPanel()
          }
        ]
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

/**
 * Raises an error notification for each preemption notice and keeps its
 * countdown up to date.
 */
export class PreemptionNotifier implements IDisposable {
  constructor(options: PreemptionNotifier.IOptions) {
    this._model = options.model;
    this._trans = options.trans;
    this._showPanel = options.showPanel;
    this._model.changed.connect(this._onChanged, this);
    this._onChanged();
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._model.changed.disconnect(this._onChanged, this);
    this._stopTimer();
  }

  private _onChanged(): void {
    const info = this._model.info;
    if (!info || this._model.error) {
      return;
    }
    const key = noticeKey(info);
    if (key === null) {
      if (this._current !== null) {
        // The notice is gone from the server's answer.
        this._stopTimer();
        Notification.update({
          id: this._current.id,
          type: 'info',
          message: this._trans.__('The preemption notice was withdrawn.'),
          autoClose: 10000,
          actions: []
        });
        this._current = null;
      }
      return;
    }
    if (this._current?.key === key || this._seen.has(key)) {
      return;
    }
    this._seen.add(key);
    this._stopTimer();
    const id = Notification.error(this._message(info), {
      autoClose: false,
      actions: [
        {
          label: this._trans.__('Show GPU Guard'),
          caption: this._trans.__('Open the GPU Guard panel'),
          callback: event => {
            // Keep the notification: the countdown goes on.
            event.preventDefault();
            this._showPanel();
          },
          displayType: 'warn'
        }
      ]
    });
    this._current = { id, key, info };
    if (info.preemption_notice?.deadline) {
      this._timer = window.setInterval(() => this._tick(), 1000);
    }
  }

  private _tick(): void {
    const current = this._current;
    if (!current) {
      this._stopTimer();
      return;
    }
    const left = msUntil(
      current.info.preemption_notice?.deadline ?? null,
      Date.now()
    );
    const updated = Notification.update({
      id: current.id,
      message: this._message(current.info)
    });
    if (!updated || left === 0) {
      // Dismissed by the user, or the deadline has passed.
      this._stopTimer();
    }
  }

  private _message(info: IInstanceInfo): string {
    const notice = info.preemption_notice;
    if (!notice) {
      return '';
    }
    const left = msUntil(notice.deadline, Date.now());
    if (left === null) {
      return this._trans.__(
        'Preemption notice: this instance is being reclaimed (%1). Save your work now.',
        notice.source
      );
    }
    if (left === 0) {
      return this._trans.__(
        'Preemption notice: this instance can go away any moment now (%1).',
        notice.source
      );
    }
    return this._trans.__(
      'Preemption notice: this instance goes away in %1 (%2). Save your work now.',
      formatCountdown(left),
      notice.source
    );
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _current: { id: string; key: string; info: IInstanceInfo } | null =
    null;
  private _isDisposed = false;
  private _model: IInstanceModel;
  private _seen = new Set<string>();
  private _showPanel: () => void;
  private _timer: number | null = null;
  private _trans: TranslationBundle;
}

export namespace PreemptionNotifier {
  export interface IOptions {
    model: IInstanceModel;
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
