import { IDisposable } from '@lumino/disposable';
import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { describeError } from './errors';

/**
 * Longest interval after failures (exponential backoff), in seconds.
 */
export const MAX_BACKOFF_INTERVAL = 60;

/**
 * Poll every `seconds`, backing off after failures up to a minute (or
 * `seconds` when that is longer).
 */
export function pollFrequency(seconds: number): IPoll.Frequency {
  return {
    interval: seconds * 1000,
    backoff: true,
    max: Math.max(seconds, MAX_BACKOFF_INTERVAL) * 1000
  };
}

/**
 * A model that asks the server again and again: a poll that pauses while the
 * page is hidden, at an interval in seconds that the model chooses after each
 * request, and a signal for the views.
 */
export abstract class PolledModel implements IDisposable {
  constructor(options: PolledModel.IOptions) {
    this._poll = new Poll({
      auto: options.auto ?? true,
      factory: () => this.poll(),
      frequency: pollFrequency(options.interval),
      name: options.name,
      standby: 'when-hidden'
    });
  }

  /**
   * Emitted when what the model knows changes.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Ask the server again now; resolves once the answer is in.
   */
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

  /**
   * One request; a rejection makes the poll back off.
   */
  protected abstract poll(): Promise<void>;

  /**
   * The interval to poll at now, in seconds.
   */
  protected abstract currentInterval(): number;

  protected emitChanged(): void {
    this._changed.emit();
  }

  /**
   * Poll at the interval `currentInterval` gives now, from the next request on.
   */
  protected updateFrequency(): void {
    this._poll.frequency = pollFrequency(this.currentInterval());
  }

  /**
   * Poll at the interval `currentInterval` gives now, starting over from now
   * rather than after the request already scheduled.
   */
  protected reschedule(): void {
    this.updateFrequency();
    if (!this._poll.isDisposed) {
      void this._poll.schedule({ interval: this._poll.frequency.interval });
    }
  }

  /**
   * Start polling, for a model made with `auto: false`.
   */
  protected startPolling(): void {
    void this._poll.start();
  }

  protected stopPolling(): void {
    void this._poll.stop();
  }

  /**
   * Ask again now without waiting for the answer.
   */
  protected pollNow(): void {
    void this._poll.refresh();
  }

  private _changed = new Signal<this, void>(this);
  private _isDisposed = false;
  private _poll: Poll;
}

export namespace PolledModel {
  export interface IOptions {
    /**
     * The poll's name, for debugging.
     */
    name: string;
    /**
     * The first interval, in seconds.
     */
    interval: number;
    /**
     * Whether to start polling at once (default true).
     */
    auto?: boolean;
  }
}

/**
 * A polled model that keeps the last answer of one route, when it came and
 * why the last request failed.
 */
export abstract class PolledAnswerModel<T> extends PolledModel {
  constructor(options: PolledAnswerModel.IOptions<T>) {
    super(options);
    this._fetch = options.fetch;
  }

  /**
   * `Date.now()` when the last answer arrived.
   */
  get receivedAt(): number {
    return this._receivedAt;
  }

  /**
   * Why the last request failed, or null.
   */
  get error(): string | null {
    return this._error;
  }

  /**
   * The last answer, or null before the first one.
   */
  protected get answer(): T | null {
    return this._answer;
  }

  /**
   * Called with each answer, before the views are told.
   */
  protected received(answer: T): void {
    // Nothing more to do by default.
  }

  /**
   * Called after each failed request, once the views are told.
   */
  protected failed(reason: unknown): void {
    // Nothing more to do by default.
  }

  /**
   * Poll at the interval `currentInterval` gives now, starting over from now;
   * before the first answer the first request is still on its way.
   */
  protected reschedule(): void {
    if (this._answer === null) {
      this.updateFrequency();
    } else {
      super.reschedule();
    }
  }

  protected async poll(): Promise<void> {
    let answer: T;
    try {
      answer = await this._fetch();
    } catch (reason) {
      const error = describeError(reason);
      if (error !== this._error) {
        this._error = error;
        this.emitChanged();
      }
      this.failed(reason);
      throw reason;
    }
    this._answer = answer;
    this._receivedAt = Date.now();
    this._error = null;
    this.received(answer);
    this.updateFrequency();
    this.emitChanged();
  }

  private _answer: T | null = null;
  private _error: string | null = null;
  private _fetch: () => Promise<T>;
  private _receivedAt = 0;
}

export namespace PolledAnswerModel {
  export interface IOptions<T> extends PolledModel.IOptions {
    /**
     * How to ask the server.
     */
    fetch: () => Promise<T>;
  }
}
