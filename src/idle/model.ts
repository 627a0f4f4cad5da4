import {
  fetchIdle,
  fetchRisk,
  IIdleState,
  IRisk,
  keepRunning,
  setIdleStopAfter
} from '../api/idle';
import { describeError } from '../common/errors';
import { PolledAnswerModel } from '../common/polledModel';

/**
 * Seconds between polls while nothing is counted down.
 */
export const IDLE_REFRESH_INTERVAL = 15;

/**
 * Seconds between polls once the warning is due or a stop runs.
 */
export const WARNING_REFRESH_INTERVAL = 2;

/**
 * What the idle model answers with: the countdown, and what a preemption
 * would cost now.
 */
export interface IIdleAnswer {
  state: IIdleState;
  risk: IRisk | null;
}

/**
 * Polls `gpuguard/idle` and `gpuguard/risk`; turns idle stop on and off and
 * keeps the machine running.
 */
export class IdleModel extends PolledAnswerModel<IIdleAnswer> {
  constructor(options: IdleModel.IOptions = {}) {
    const idle = options.fetchIdle ?? fetchIdle;
    const risk = options.fetchRisk ?? fetchRisk;
    super({
      name: 'jupyter-gpuguard:idle',
      interval: IDLE_REFRESH_INTERVAL,
      auto: options.auto,
      fetch: async () => {
        const [state, answer] = await Promise.all([
          idle(),
          // The risk line is worth less than the countdown: never fail it.
          risk().catch(() => null)
        ]);
        return { state, risk: answer };
      }
    });
    this._keepRunning = options.keepRunning ?? keepRunning;
    this._setStopAfter = options.setStopAfter ?? setIdleStopAfter;
  }

  get state(): IIdleState | null {
    return this.answer?.state ?? null;
  }

  get risk(): IRisk | null {
    return this.answer?.risk ?? null;
  }

  /**
   * Why the last action (Keep running, a new setting) failed, or null.
   */
  get actionError(): string | null {
    return this._actionError;
  }

  /**
   * Whether an action is on its way.
   */
  get pending(): boolean {
    return this._pending;
  }

  /**
   * Count the idle time again from now.
   */
  async keepRunning(): Promise<void> {
    await this._act(() => this._keepRunning());
  }

  /**
   * Stop after `seconds` of idleness; null turns idle stop off.
   */
  async setStopAfter(seconds: number | null): Promise<void> {
    await this._act(() => this._setStopAfter(seconds));
  }

  protected currentInterval(): number {
    const state = this.state;
    if (!state || state.phase === 'off') {
      return IDLE_REFRESH_INTERVAL;
    }
    if (
      state.phase !== 'watching' ||
      (state.seconds_left !== null &&
        state.seconds_left <= state.warn_before + IDLE_REFRESH_INTERVAL)
    ) {
      return WARNING_REFRESH_INTERVAL;
    }
    return IDLE_REFRESH_INTERVAL;
  }

  private async _act(action: () => Promise<IIdleState>): Promise<void> {
    this._pending = true;
    this._actionError = null;
    this.emitChanged();
    try {
      await action();
    } catch (reason) {
      this._actionError = describeError(reason);
    } finally {
      this._pending = false;
    }
    // The answer of the action is the state; the risk comes with the poll.
    await this.refresh().catch(() => undefined);
    this.emitChanged();
  }

  private _actionError: string | null = null;
  private _keepRunning: () => Promise<IIdleState>;
  private _pending = false;
  private _setStopAfter: (seconds: number | null) => Promise<IIdleState>;
}

export namespace IdleModel {
  export interface IOptions {
    auto?: boolean;
    fetchIdle?: () => Promise<IIdleState>;
    fetchRisk?: () => Promise<IRisk>;
    keepRunning?: () => Promise<IIdleState>;
    setStopAfter?: (seconds: number | null) => Promise<IIdleState>;
  }
}
