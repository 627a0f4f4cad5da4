import { VDomModel } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { formatAgo, formatBytes, formatClock } from '../common/format';
import { snapshotIcon } from '../common/icons';
import { SNAPSHOT_POLL_INTERVAL } from './model';
import { ISnapshotsModel } from '../tokens';
import { IOpenNotebook, OpenNotebooks } from './notebooks';
import { isOverdue, lastSnapshotTime } from './state';
import { ClickableStatusItem } from '../common/statusItem';

/**
 * What the status bar item shows.
 */
export interface ISnapshotStatusView {
  /**
   * `saving`, `restoring`, `saved`, `not-saved`, `unsupported`, `unavailable`.
   */
  state: string;
  text: string;
  title: string;
  /**
   * Shown in the warning colour: the last snapshot failed or is late.
   */
  warn: boolean;
}

/**
 * What to show for a notebook, or null when there is nothing to say.
 */
export function snapshotStatusView(
  model: ISnapshotsModel,
  notebook: IOpenNotebook | null,
  now: number,
  trans: TranslationBundle
): ISnapshotStatusView | null {
  const status = model.status;
  if (!notebook || !notebook.kernelId || !status || model.error) {
    return null;
  }
  const kernel = model.kernel(notebook.kernelId);
  if (!kernel) {
    return null;
  }
  if (kernel.supported === false) {
    return {
      state: 'unsupported',
      text: trans.__('no snapshots'),
      title: kernel.reason || trans.__('This kernel cannot be snapshotted.'),
      warn: false
    };
  }
  const last = lastSnapshotTime(kernel);
  const lastTitle =
    last !== null && kernel.last_snapshot
      ? trans.__(
          'Variables of %1 saved at %2 (%3).',
          notebook.name,
          formatClock(last, now),
          formatBytes(kernel.last_snapshot.bytes_total)
        )
      : trans.__('No snapshot of %1 yet.', notebook.name);
  const overdue = isOverdue(kernel, status, now, SNAPSHOT_POLL_INTERVAL);
  const problems: string[] = [];
  if (kernel.last_error) {
    problems.push(trans.__('The last snapshot failed: %1', kernel.last_error));
  }
  if (overdue) {
    problems.push(trans.__('The automatic snapshot is late.'));
  }
  if (!kernel.attached && kernel.reason) {
    problems.push(kernel.reason);
  }
  const title = [lastTitle, ...problems, trans.__('Click for details.')].join(
    '\n'
  );
  const warn = problems.length > 0;

  if (model.isRestoring(notebook.kernelId)) {
    return { state: 'restoring', text: trans.__('restoring…'), title, warn };
  }
  if (model.isSnapshotting(notebook.kernelId) || kernel.in_flight) {
    return { state: 'saving', text: trans.__('saving…'), title, warn };
  }
  if (last === null) {
    return { state: 'not-saved', text: trans.__('not saved yet'), title, warn };
  }
  return {
    state: 'saved',
    text: trans.__('saved %1', formatAgo(last, now, trans)),
    title,
    warn
  };
}

/**
 * The status bar model: the current notebook and the snapshots model.
 */
export class SnapshotStatusModel extends VDomModel {
  constructor(model: ISnapshotsModel, notebooks: OpenNotebooks) {
    super();
    this.model = model;
    this.notebooks = notebooks;
    model.changed.connect(this._onChanged, this);
    notebooks.changed.connect(this._onChanged, this);
    this._timer = window.setInterval(() => this._onTick(), 1000);
  }

  readonly model: ISnapshotsModel;
  readonly notebooks: OpenNotebooks;

  /**
   * Emitted when the item may appear or go away.
   */
  get activeChanged(): ISignal<SnapshotStatusModel, void> {
    return this._activeChanged;
  }

  /**
   * Whether there is something to show.
   */
  get active(): boolean {
    return this._active;
  }

  set active(value: boolean) {
    if (value !== this._active) {
      this._active = value;
      this._activeChanged.emit();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearInterval(this._timer);
    this.model.changed.disconnect(this._onChanged, this);
    this.notebooks.changed.disconnect(this._onChanged, this);
    Signal.clearData(this);
    super.dispose();
  }

  private _onTick(): void {
    // Only re-render the visible ticking text.
    if (this._active && !document.hidden) {
      this.stateChanged.emit(void 0);
    }
  }

  private _onChanged(): void {
    this.stateChanged.emit(void 0);
  }

  private _active = false;
  private _activeChanged = new Signal<SnapshotStatusModel, void>(this);
  private _timer: number;
}

/**
 * The status bar item: when the variables of the current notebook were saved.
 */
export class SnapshotStatus extends ClickableStatusItem<SnapshotStatusModel> {
  constructor(options: SnapshotStatus.IOptions) {
    super(
      new SnapshotStatusModel(options.model, options.notebooks),
      options.onClick
    );
    this._trans = options.trans;
    this.addClass('jp-gpuguard-snapshot-status-item');
    this.model.stateChanged.connect(this._updateActive, this);
    this._updateActive();
  }

  protected render(): JSX.Element | null {
    const view = this._view();
    if (!view) {
      this.node.title = '';
      return null;
    }
    this.node.title = view.title;
    return (
      <div
        className={
          'jp-gpuguard-snapshot-status' + (view.warn ? ' jp-mod-warning' : '')
        }
        data-state={view.state}
        data-warning={String(view.warn)}
      >
        {view.state === 'saving' || view.state === 'restoring' ? (
          <span className="jp-gpuguard-spinner" aria-hidden="true" />
        ) : (
          <snapshotIcon.react
            className="jp-gpuguard-snapshot-status-icon"
            tag="span"
            stylesheet="statusBar"
          />
        )}
        <span className="jp-gpuguard-snapshot-status-text">{view.text}</span>
      </div>
    );
  }

  private _view(): ISnapshotStatusView | null {
    return snapshotStatusView(
      this.model.model,
      this.model.notebooks.current(),
      Date.now(),
      this._trans
    );
  }

  private _updateActive(): void {
    this.model.active = this._view() !== null;
  }

  private _trans: TranslationBundle;
}

export namespace SnapshotStatus {
  export interface IOptions {
    model: ISnapshotsModel;
    notebooks: OpenNotebooks;
    trans: TranslationBundle;
    /**
     * Called when the item is clicked: open the panel.
     */
    onClick: () => void;
  }
}
