import { TranslationBundle } from '@jupyterlab/translation';

import type { IIdleState, IRisk, IStoppedCost } from '../api/idle';
import { formatDuration, formatMoney, formatPrice } from '../common/format';

/**
 * The choices of the panel's idle stop menu.
 */
export type IdleChoice = 'off' | '1800' | '3600' | '7200' | 'custom';

/**
 * The preset choices, in seconds.
 */
export const PRESET_SECONDS = [1800, 3600, 7200];

/**
 * The menu choice that shows `stopAfter` seconds.
 */
export function choiceOf(stopAfter: number | null): IdleChoice {
  if (!stopAfter) {
    return 'off';
  }
  const preset = PRESET_SECONDS.find(s => s === stopAfter);
  return preset ? (String(preset) as IdleChoice) : 'custom';
}

/**
 * Minutes typed in the custom field as seconds; null when not a positive
 * number of minutes (at most a week).
 */
export function customSeconds(text: string): number | null {
  const minutes = Number(text.trim().replace(',', '.'));
  if (!text.trim() || !isFinite(minutes) || minutes <= 0) {
    return null;
  }
  const seconds = Math.round(minutes * 60);
  return seconds > 0 && seconds <= 7 * 86400 ? seconds : null;
}

/**
 * Milliseconds since the answer arrived, as the server counts them.
 */
function since(receivedAt: number, now: number): number {
  return Math.max(0, (now - receivedAt) / 1000);
}

/**
 * Seconds left before the stop at `now`, counted on from the answer; null
 * when nothing is counted down.
 */
export function secondsLeft(
  state: IIdleState,
  receivedAt: number,
  now: number
): number | null {
  if (state.seconds_left === null) {
    return null;
  }
  return Math.max(0, state.seconds_left - since(receivedAt, now));
}

/**
 * Seconds idle at `now`, counted on from the answer (zero while something is
 * active).
 */
export function idleSeconds(
  state: IIdleState,
  receivedAt: number,
  now: number
): number {
  if (state.active_now.length > 0) {
    return state.idle_seconds;
  }
  return state.idle_seconds + since(receivedAt, now);
}

/**
 * What the idle time cost at the machine's price; null without a price.
 */
export function idleCost(state: IIdleState, seconds: number): number | null {
  return state.price_per_hour === null
    ? null
    : (state.price_per_hour * seconds) / 3600;
}

/**
 * How much of the countdown is left, from 1 (all) to 0 (the stop).
 */
export function countdownFraction(
  state: IIdleState,
  left: number | null
): number {
  if (left === null || !state.stop_after) {
    return 0;
  }
  return Math.min(1, Math.max(0, left / state.stop_after));
}

/**
 * "idle 42 min, $1.74 spent idle".
 */
export function idleCostLine(
  trans: TranslationBundle,
  state: IIdleState,
  seconds: number
): string {
  const cost = idleCost(state, seconds);
  if (cost === null) {
    return trans.__('idle %1', formatDuration(seconds));
  }
  return trans.__(
    'idle %1, %2 spent idle',
    formatDuration(seconds),
    formatMoney(cost, state.currency, 2)
  );
}

/**
 * What the stop will do, in words.
 */
export function actionWords(
  trans: TranslationBundle,
  state: IIdleState
): string {
  switch (state.action) {
    case 'runpod':
      return trans.__('snapshot every kernel, then stop this pod');
    case 'command':
      return trans.__('snapshot every kernel, then stop this machine');
    default:
      // The server says why, e.g. a pod without a RunPod API key.
      return (
        state.action_text ||
        trans.__('nothing: no way to stop this machine is set')
      );
  }
}

/**
 * The notification shown `warn_before` seconds before the stop, e.g. "Idle
 * for 55 min at $2.49/h. In 5 min: snapshot every kernel, then stop this pod."
 */
export function warningMessage(
  trans: TranslationBundle,
  state: IIdleState,
  idle: number,
  left: number
): string {
  const inTime = formatDuration(Math.ceil(left / 60) * 60);
  if (state.price_per_hour === null) {
    return trans.__(
      'Idle for %1. In %2: %3.',
      formatDuration(idle),
      inTime,
      actionWords(trans, state)
    );
  }
  return trans.__(
    'Idle for %1 at %2. In %3: %4.',
    formatDuration(idle),
    formatPrice(state.price_per_hour, state.currency),
    inTime,
    actionWords(trans, state)
  );
}

/**
 * What a stopped pod still costs beside what running costs; null off RunPod
 * or before it is known.
 */
export function stoppedCostLine(
  trans: TranslationBundle,
  cost: IStoppedCost | null,
  state: IIdleState
): string | null {
  if (!cost || cost.error || cost.per_month === null) {
    return null;
  }
  const stopped = trans.__(
    'Stopped, this pod still costs %1/month (%2)',
    formatMoney(cost.per_month, state.currency, 2),
    cost.basis
  );
  if (state.price_per_hour === null) {
    return `${stopped}.`;
  }
  return trans.__(
    '%1; running, %2.',
    stopped,
    formatPrice(state.price_per_hour, state.currency)
  );
}

/**
 * "If this machine vanished now: 14 min of work since the last snapshot, 2
 * variables that would be rebuilt by re-running 3 cells (about 40 s by their
 * recorded run times)"; null without a kernel.
 */
export function riskLine(
  trans: TranslationBundle,
  risk: IRisk | null
): string | null {
  if (!risk || risk.kernels.length === 0) {
    return null;
  }
  const parts: string[] = [];
  if (risk.work_seconds === null) {
    parts.push(trans.__('the work of kernels never snapshotted'));
  } else if (risk.work_seconds < 1) {
    parts.push(trans.__('no work since the last snapshot'));
  } else {
    parts.push(
      trans.__(
        '%1 of work since the last snapshot',
        formatDuration(risk.work_seconds)
      )
    );
  }
  if (risk.rebuild_variables > 0) {
    let rebuild = trans._n(
      '%1 variable that would be rebuilt by re-running %2',
      '%1 variables that would be rebuilt by re-running %2',
      risk.rebuild_variables,
      trans._n('%1 cell', '%1 cells', risk.rebuild_cells)
    );
    if (risk.rebuild_seconds !== null) {
      rebuild +=
        ' ' +
        trans.__(
          '(about %1 by their recorded run times)',
          formatDuration(Math.max(1, Math.round(risk.rebuild_seconds)))
        );
    }
    parts.push(rebuild);
  }
  if (risk.lost_variables > 0) {
    parts.push(
      trans._n(
        '%1 variable that could not be rebuilt',
        '%1 variables that could not be rebuilt',
        risk.lost_variables
      )
    );
  }
  return trans.__('If this machine vanished now: %1', parts.join(', '));
}
