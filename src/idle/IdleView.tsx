import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IIdleState } from '../api/idle';
import { formatCountdown, formatDuration } from '../common/format';
import { useNow, useSignal } from '../common/hooks';
import { IdleModel } from './model';
import {
  actionWords,
  choiceOf,
  countdownFraction,
  customSeconds,
  IdleChoice,
  idleCostLine,
  idleSeconds,
  riskLine,
  secondsLeft,
  stoppedCostLine
} from './text';

/**
 * Properties of the idle stop view.
 */
export interface IIdleViewProps {
  model: IdleModel;
  trans: TranslationBundle;
}

/**
 * The "Idle stop" section of the GPU Guard panel: the one choice that turns
 * it on, the countdown, Keep running, and what idleness costs.
 */
export function IdleView(props: IIdleViewProps): JSX.Element {
  const { model, trans } = props;
  useSignal(model.changed);
  const state = model.state;
  const now = useNow(state !== null && state.phase !== 'off');

  if (!state) {
    return (
      <div className="jp-gpuguard-view jp-gpuguard-idle">
        {model.error ? (
          <p className="jp-gpuguard-small">{model.error}</p>
        ) : (
          <div className="jp-gpuguard-loading" role="status">
            <span className="jp-gpuguard-spinner" aria-hidden="true" />
            <span>{trans.__('Asking the server about idle stop…')}</span>
          </div>
        )}
      </div>
    );
  }

  const idle = idleSeconds(state, model.receivedAt, now);
  const left = secondsLeft(state, model.receivedAt, now);
  const stopped = stoppedCostLine(trans, state.stopped_cost, state);
  return (
    <div className="jp-gpuguard-view jp-gpuguard-idle" data-phase={state.phase}>
      <IdleChoiceField model={model} state={state} trans={trans} />
      {state.enabled && state.action !== 'none' && (
        <Countdown model={model} state={state} left={left} trans={trans} />
      )}
      {state.enabled && state.action === 'none' && (
        <p className="jp-gpuguard-small jp-gpuguard-idle-nothing">
          {trans.__(
            'Idle stop is on, but it will do %1. Only the idle cost is shown.',
            state.action_text
          )}
        </p>
      )}
      {!state.enabled && (
        <p className="jp-gpuguard-small jp-gpuguard-idle-off">
          {trans.__(
            'When on, once idle for that long: %1.',
            actionWords(trans, state)
          )}
        </p>
      )}
      <p className="jp-gpuguard-idle-cost">
        {idleCostLine(trans, state, idle)}
      </p>
      {state.active_now.length > 0 && (
        <p className="jp-gpuguard-small jp-gpuguard-idle-active">
          {trans.__('Active now: %1', state.active_now.join('; '))}
        </p>
      )}
      {state.active_now.length === 0 && state.last_activity && (
        <p className="jp-gpuguard-small jp-gpuguard-idle-last">
          {trans.__('Last activity: %1', state.last_activity)}
        </p>
      )}
      {stopped && (
        <p className="jp-gpuguard-small jp-gpuguard-idle-stopped-cost">
          {stopped}
        </p>
      )}
      {state.last_stop && !state.last_stop.ok && (
        <div className="jp-gpuguard-error jp-gpuguard-idle-failed" role="alert">
          {state.last_stop.message}
        </div>
      )}
      {state.last_stop?.ok && state.phase === 'stopped' && (
        <p className="jp-gpuguard-small jp-gpuguard-idle-done">
          {state.last_stop.message}
        </p>
      )}
      {model.actionError && (
        <div className="jp-gpuguard-error" role="alert">
          {model.actionError}
        </div>
      )}
    </div>
  );
}

/**
 * Off, 30 min, 1 h, 2 h or a custom number of minutes.
 */
function IdleChoiceField(props: {
  model: IdleModel;
  state: IIdleState;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, state, trans } = props;
  const current = choiceOf(state.stop_after);
  const [choice, setChoice] = React.useState<IdleChoice>(current);
  const [minutes, setMinutes] = React.useState(() =>
    state.stop_after ? String(Math.round(state.stop_after / 6) / 10) : '90'
  );
  React.useEffect(() => {
    // Another browser or a restart changed it: follow, unless typing a custom one.
    if (choice !== 'custom' || current !== 'custom') {
      setChoice(current);
    }
  }, [current]);

  const custom = customSeconds(minutes);
  const onChoice = (value: IdleChoice) => {
    setChoice(value);
    if (value === 'off') {
      void model.setStopAfter(null);
    } else if (value !== 'custom') {
      void model.setStopAfter(Number(value));
    }
  };
  return (
    <div className="jp-gpuguard-idle-choice">
      <label className="jp-gpuguard-idle-choice-row">
        <span>{trans.__('Stop this machine when idle for')}</span>
        <select
          className="jp-mod-styled jp-gpuguard-idle-select"
          value={choice}
          title={trans.__('Kept by the server until it restarts')}
          disabled={model.pending}
          onChange={event => onChoice(event.target.value as IdleChoice)}
        >
          <option value="off">{trans.__('Off')}</option>
          <option value="1800">{trans.__('30 min')}</option>
          <option value="3600">{trans.__('1 h')}</option>
          <option value="7200">{trans.__('2 h')}</option>
          <option value="custom">{trans.__('Custom…')}</option>
        </select>
      </label>
      {choice === 'custom' && (
        <div className="jp-gpuguard-field-row jp-gpuguard-idle-custom">
          <input
            className="jp-mod-styled jp-gpuguard-idle-minutes"
            type="number"
            min={1}
            step="any"
            aria-label={trans.__('Minutes')}
            value={minutes}
            onChange={event => setMinutes(event.target.value)}
          />
          <span className="jp-gpuguard-small">{trans.__('min')}</span>
          <button
            className="jp-Button jp-mod-styled jp-mod-accept jp-gpuguard-idle-apply"
            disabled={custom === null || model.pending}
            onClick={() => custom !== null && void model.setStopAfter(custom)}
          >
            {trans.__('Set')}
          </button>
        </div>
      )}
    </div>
  );
}

/**
 * The time left, drawn as a bar, and Keep running.
 */
function Countdown(props: {
  state: IIdleState;
  left: number | null;
  trans: TranslationBundle;
  model: IdleModel;
}): JSX.Element {
  const { model, state, left, trans } = props;
  const busy = state.phase === 'snapshotting' || state.phase === 'stopping';
  let text: string;
  if (state.phase === 'snapshotting') {
    text = trans.__('Snapshotting every kernel before the stop…');
  } else if (state.phase === 'stopping') {
    text = trans.__('Every snapshot committed: stopping…');
  } else if (state.phase === 'stopped') {
    text = trans.__(
      'Stopped after %1 idle.',
      formatDuration(state.stop_after ?? 0)
    );
  } else if (left !== null) {
    text = trans.__(
      '%1: %2',
      formatCountdown(left * 1000),
      actionWords(trans, state)
    );
  } else {
    text = trans.__('Counting from the last activity.');
  }
  const fraction = countdownFraction(state, left);
  return (
    <div
      className={
        'jp-gpuguard-idle-countdown' +
        (state.phase === 'warning' ? ' jp-gpuguard-mod-warning' : '')
      }
    >
      <div
        className="jp-gpuguard-idle-bar"
        role="progressbar"
        aria-label={trans.__('Time left before the idle stop')}
        aria-valuemin={0}
        aria-valuemax={state.stop_after ?? 0}
        aria-valuenow={Math.round(left ?? 0)}
      >
        <div
          className="jp-gpuguard-idle-bar-value"
          style={{ width: `${(fraction * 100).toFixed(1)}%` }}
        />
      </div>
      <div className="jp-gpuguard-idle-countdown-row">
        {busy && <span className="jp-gpuguard-spinner" aria-hidden="true" />}
        <span className="jp-gpuguard-idle-left">{text}</span>
      </div>
      <button
        className="jp-Button jp-mod-styled jp-mod-accept jp-gpuguard-keep-running"
        disabled={model.pending || state.phase === 'stopping'}
        onClick={() => void model.keepRunning()}
      >
        {trans.__('Keep running')}
      </button>
    </div>
  );
}

/**
 * "If this machine vanished now: …", shown beside the spot badge.
 */
export function RiskLine(props: IIdleViewProps): JSX.Element | null {
  const { model, trans } = props;
  useSignal(model.changed);
  const line = riskLine(trans, model.risk);
  if (!line) {
    return null;
  }
  return (
    <p className="jp-gpuguard-small jp-gpuguard-risk" role="note">
      {line}
    </p>
  );
}
