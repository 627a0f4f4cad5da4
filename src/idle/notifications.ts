import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { ModelWatcher } from '../common/modelWatcher';
import { IdleModel } from './model';
import { idleSeconds, secondsLeft, warningMessage } from './text';

/**
 * Warns `warn_before` seconds before an idle stop, with a Keep running
 * button, once per idle stretch; the warning goes when activity resumes.
 */
export class IdleNotifier extends ModelWatcher {
  constructor(options: IdleNotifier.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._trans = options.trans;
    this.onChanged();
  }

  protected onDisposed(): void {
    this._stopTimer();
    this._dismiss();
  }

  protected onChanged(): void {
    const state = this._model.state;
    if (!state) {
      return;
    }
    const warning = state.phase === 'warning' && state.action !== 'none';
    if (!warning) {
      this._dismiss();
      return;
    }
    if (this._current?.key === state.idle_since) {
      return;
    }
    this._dismiss();
    const id = Notification.warning(this._message(), {
      autoClose: false,
      actions: [
        {
          label: this._trans.__('Keep running'),
          caption: this._trans.__('Count the idle time again from now'),
          callback: () => void this._model.keepRunning(),
          displayType: 'accent'
        }
      ]
    });
    this._current = { id, key: state.idle_since };
    this._timer = window.setInterval(() => this._tick(), 1000);
  }

  private _message(): string {
    const state = this._model.state!;
    const now = Date.now();
    const left = secondsLeft(state, this._model.receivedAt, now) ?? 0;
    const idle = idleSeconds(state, this._model.receivedAt, now);
    return warningMessage(this._trans, state, idle, left);
  }

  private _tick(): void {
    if (!this._current || !this._model.state) {
      this._stopTimer();
      return;
    }
    const updated = Notification.update({
      id: this._current.id,
      message: this._message()
    });
    if (!updated) {
      this._stopTimer(); // dismissed by the user
    }
  }

  private _dismiss(): void {
    this._stopTimer();
    if (this._current) {
      Notification.dismiss(this._current.id);
      this._current = null;
    }
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _current: { id: string; key: number } | null = null;
  private _model: IdleModel;
  private _timer: number | null = null;
  private _trans: TranslationBundle;
}

export namespace IdleNotifier {
  export interface IOptions {
    model: IdleModel;
    trans: TranslationBundle;
  }
}
