import { PromiseDelegate } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { fetchInstance, IInstanceInfo } from '../api/instance';
import { describeError } from '../common/errors';
import { IInstanceModel } from '../tokens';

/**
 * Default polling interval, in seconds.
 */
export const DEFAULT_REFRESH_INTERVAL = 10;

/**
 * Smallest polling interval the settings accept, in seconds.
 */
export const MIN_REFRESH_INTERVAL = 2;

/**
 * Longest interval while the instance is interruptible, in seconds, so that a
 * preemption notice shows fast.
 */
export const SPOT_REFRESH_INTERVAL = 5;

/**
 * Interval while the first detection is still running, in seconds.
 */
const DETECTING_REFRESH_INTERVAL = 1;

/**
 * Longest interval after failures (exponential backoff), in seconds.
 */
const MAX_BACKOFF_INTERVAL = 60;

/**
 * Polls `gpuguard/instance` and keeps the last answer.
 */
export class InstanceModel implements IInstanceModel, IDisposable {
  constructor(options: InstanceModel.IOptions = {}) {
    this._fetch = options.fetch ?? fetchInstance;
    this._refreshInterval = clampInterval(
      options.refreshInterval ?? DEFAULT_REFRESH_INTERVAL
    );
    this._poll = new Poll({
      auto: options.auto ?? true,
      factory: () => this._tick(),
      frequency: this._frequency(),
      name: 'jupyter-gpuguard:instance',
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<IInstanceModel, void> {
    return this._changed;
  }

  get info(): IInstanceInfo | null {
    return this._info;
  }

  get receivedAt(): number {
    return this._receivedAt;
  }

  get error(): string | null {
    return this._error;
  }

  get ready(): Promise<void> {
    return this._ready.promise;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The polling interval asked for in the settings, in seconds.
   *
   * The model polls at most every 5 s while the instance is interruptible.
   */
  get refreshInterval(): number {
    return this._refreshInterval;
  }
  set refreshInterval(value: number) {
    const interval = clampInterval(value);
    if (interval === this._refreshInterval) {
      return;
    }
    this._refreshInterval = interval;
    this._poll.frequency = this._frequency();
    // Take the new interval into account now rather than after the next tick.
    if (!this._poll.isDisposed && this._info !== null) {
      void this._poll.schedule({ interval: this._frequency().interval });
    }
  }

  /**
   * The interval the model polls at now, in seconds.
   */
  get effectiveInterval(): number {
    return this._frequency().interval / 1000;
  }

  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _tick(): Promise<void> {
    let info: IInstanceInfo;
    try {
      info = await this._fetch();
    } catch (reason) {
      const error = describeError(reason);
      if (error !== this._error) {
        this._error = error;
        this._changed.emit();
      }
      this._ready.resolve();
      // Rethrow so that the poll backs off.
      throw reason;
    }
    this._info = info;
    this._receivedAt = Date.now();
    this._error = null;
    this._poll.frequency = this._frequency();
    if (!info.detecting) {
      this._ready.resolve();
    }
    this._changed.emit();
  }

  private _frequency(): IPoll.Frequency {
    let seconds = this._refreshInterval;
    if (this._info?.detecting) {
      seconds = DETECTING_REFRESH_INTERVAL;
    } else if (this._info?.interruptible === true) {
      seconds = Math.min(seconds, SPOT_REFRESH_INTERVAL);
    }
    return pollFrequency(seconds);
  }

  private _changed = new Signal<IInstanceModel, void>(this);
  private _error: string | null = null;
  private _fetch: () => Promise<IInstanceInfo>;
  private _info: IInstanceInfo | null = null;
  private _isDisposed = false;
  private _poll: Poll;
  private _ready = new PromiseDelegate<void>();
  private _receivedAt = 0;
  private _refreshInterval: number;
}

export namespace InstanceModel {
  export interface IOptions {
    /**
     * Polling interval in seconds (settings `refreshInterval`).
     */
    refreshInterval?: number;
    /**
     * How to ask the server; defaults to `fetchInstance`.
     */
    fetch?: () => Promise<IInstanceInfo>;
    /**
     * Whether to start polling at once (default true).
     */
    auto?: boolean;
  }
}

/**
 * Poll every `seconds`, backing off after failures up to a minute (or `seconds`).
 */
export function pollFrequency(seconds: number): IPoll.Frequency {
  return {
    interval: seconds * 1000,
    backoff: true,
    max: Math.max(seconds, MAX_BACKOFF_INTERVAL) * 1000
  };
}

function clampInterval(value: number): number {
  if (typeof value !== 'number' || !isFinite(value)) {
    return DEFAULT_REFRESH_INTERVAL;
  }
  return Math.max(MIN_REFRESH_INTERVAL, value);
}
