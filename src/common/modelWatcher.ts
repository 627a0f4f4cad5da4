import { IDisposable } from '@lumino/disposable';
import { ISignal } from '@lumino/signaling';

/**
 * What every notifier of ours shares: it follows one model's `changed` signal
 * until it is disposed. Subclasses call `onChanged()` once they are set up.
 */
export abstract class ModelWatcher implements IDisposable {
  constructor(changed: ISignal<unknown, void>) {
    this._changed = changed;
    changed.connect(this._handle, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._changed.disconnect(this._handle, this);
    this.onDisposed();
  }

  /**
   * The model changed (or the watcher was just set up).
   */
  protected abstract onChanged(): void;

  /**
   * Let go of what the watcher holds: timers, open notifications.
   */
  protected onDisposed(): void {
    // nothing by default
  }

  private _handle(): void {
    this.onChanged();
  }

  private _changed: ISignal<unknown, void>;
  private _isDisposed = false;
}
