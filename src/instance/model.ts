import { PromiseDelegate } from '@lumino/coreutils';

import { fetchInstance, IInstanceInfo } from '../api/instance';
import { PolledAnswerModel } from '../common/polledModel';
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
 * Polls `gpuguard/instance` and keeps the last answer.
 */
export class InstanceModel
  extends PolledAnswerModel<IInstanceInfo>
  implements IInstanceModel
{
  constructor(options: InstanceModel.IOptions = {}) {
    const refreshInterval = clampInterval(
      options.refreshInterval ?? DEFAULT_REFRESH_INTERVAL
    );
    super({
      name: 'jupyter-gpuguard:instance',
      interval: refreshInterval,
      auto: options.auto,
      fetch: options.fetch ?? fetchInstance
    });
    this._refreshInterval = refreshInterval;
  }

  get info(): IInstanceInfo | null {
    return this.answer;
  }

  get ready(): Promise<void> {
    return this._ready.promise;
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
    // Take the new interval into account now rather than after the next tick.
    this.reschedule();
  }

  /**
   * The interval the model polls at now, in seconds.
   */
  get effectiveInterval(): number {
    return this.currentInterval();
  }

  protected received(info: IInstanceInfo): void {
    if (!info.detecting) {
      this._ready.resolve();
    }
  }

  protected failed(): void {
    // A missing or broken route ends the detection too.
    this._ready.resolve();
  }

  protected currentInterval(): number {
    const info = this.answer;
    if (info?.detecting) {
      return DETECTING_REFRESH_INTERVAL;
    }
    if (info?.interruptible === true) {
      return Math.min(this._refreshInterval, SPOT_REFRESH_INTERVAL);
    }
    return this._refreshInterval;
  }

  private _ready = new PromiseDelegate<void>();
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

function clampInterval(value: number): number {
  if (typeof value !== 'number' || !isFinite(value)) {
    return DEFAULT_REFRESH_INTERVAL;
  }
  return Math.max(MIN_REFRESH_INTERVAL, value);
}
