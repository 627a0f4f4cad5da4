import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { ModelWatcher } from '../common/modelWatcher';
import type { IInstanceInfo } from '../api/instance';
import { formatCountdown, msUntil } from '../common/format';
import { showPanelAction } from '../common/notify';
import { IInstanceModel } from '../tokens';
import { noticeKey } from './info';

/**
 * Raises an error notification for each preemption notice and keeps its
 * countdown up to date.
 */
export class PreemptionNotifier extends ModelWatcher {
  constructor(options: PreemptionNotifier.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._trans = options.trans;
    this._showPanel = options.showPanel;
    this.onChanged();
  }

  protected onDisposed(): void {
    this._stopTimer();
  }

  protected onChanged(): void {
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
      // Kept open when clicked: the countdown goes on.
      actions: [showPanelAction(this._trans, this._showPanel, true, 'warn')]
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
