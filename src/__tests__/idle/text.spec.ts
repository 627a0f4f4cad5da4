import { nullTranslator } from '@jupyterlab/translation';

import { readIdleState, readRisk } from '../../api/idle';
import {
  choiceOf,
  countdownFraction,
  customSeconds,
  idleCostLine,
  idleSeconds,
  riskLine,
  secondsLeft,
  stoppedCostLine,
  warningMessage
} from '../../idle/text';
import { idleState, risk } from './fixtures';

const trans = nullTranslator.load('jupyter_gpuguard');

describe('the idle stop choice', () => {
  it('shows the presets, off and custom values', () => {
    expect(choiceOf(null)).toBe('off');
    expect(choiceOf(0)).toBe('off');
    expect(choiceOf(1800)).toBe('1800');
    expect(choiceOf(3600)).toBe('3600');
    expect(choiceOf(7200)).toBe('7200');
    expect(choiceOf(5400)).toBe('custom');
  });

  it('reads custom minutes, refusing what the server would refuse', () => {
    expect(customSeconds('90')).toBe(5400);
    expect(customSeconds(' 1,5 ')).toBe(90);
    expect(customSeconds('')).toBeNull();
    expect(customSeconds('-3')).toBeNull();
    expect(customSeconds('abc')).toBeNull();
    expect(customSeconds(String(8 * 24 * 60))).toBeNull();
  });
});

describe('the countdown', () => {
  it('counts on from the answer', () => {
    const state = idleState();
    expect(secondsLeft(state, 1000, 1000)).toBe(300);
    expect(secondsLeft(state, 1000, 61_000)).toBe(240);
    expect(secondsLeft(state, 1000, 1_000_000)).toBe(0);
    expect(secondsLeft(idleState({ seconds_left: null }), 0, 5000)).toBeNull();
  });

  it('stands still while something is active', () => {
    expect(idleSeconds(idleState(), 0, 60_000)).toBe(3360);
    const busy = idleState({ idle_seconds: 0, active_now: ['GPU 0 at 80%'] });
    expect(idleSeconds(busy, 0, 60_000)).toBe(0);
  });

  it('draws the part of the idle time left', () => {
    expect(countdownFraction(idleState(), 300)).toBeCloseTo(300 / 3600);
    expect(countdownFraction(idleState(), 9999)).toBe(1);
    expect(countdownFraction(idleState(), null)).toBe(0);
    expect(countdownFraction(idleState({ stop_after: null }), 10)).toBe(0);
  });
});

describe('what idleness costs', () => {
  it('says the idle time and its cost at the hourly price', () => {
    const state = idleState({ price_per_hour: 2.49 });
    expect(idleCostLine(trans, state, 42 * 60)).toBe(
      'idle 42 min, $1.74 spent idle'
    );
    expect(
      idleCostLine(trans, idleState({ price_per_hour: null }), 42 * 60)
    ).toBe('idle 42 min');
  });

  it('warns with the price and what will happen', () => {
    expect(warningMessage(trans, idleState(), 55 * 60, 300)).toBe(
      'Idle for 55 min at $2.49/h. In 5 min: snapshot every kernel, then stop this pod.'
    );
    expect(
      warningMessage(
        trans,
        idleState({ action: 'command', price_per_hour: null }),
        3600,
        61
      )
    ).toBe(
      'Idle for 1 h 00 min. In 2 min: snapshot every kernel, then stop this machine.'
    );
  });

  it('puts what a stopped pod costs beside what running costs', () => {
    const state = idleState();
    expect(stoppedCostLine(trans, state.stopped_cost, state)).toBe(
      'Stopped, this pod still costs $11.00/month (20 GB volume disk at $0.20/GB/month + 100 GB network volume at $0.07/GB/month); running, $2.49/h.'
    );
    expect(stoppedCostLine(trans, null, state)).toBeNull();
    const failed = readIdleState({
      phase: 'watching',
      stopped_cost: { error: 'RunPod knows no such pod' }
    });
    expect(stoppedCostLine(trans, failed.stopped_cost, failed)).toBeNull();
  });
});

describe('the risk line', () => {
  it('says the work at risk and what a rebuild would re-run', () => {
    expect(riskLine(trans, risk())).toBe(
      'If this machine vanished now: 14 min of work since the last snapshot, 2 variables that would be rebuilt by re-running 3 cells (about 40 s by their recorded run times)'
    );
  });

  it('has singulars, untimed cells, losses and kernels never snapshotted', () => {
    expect(
      riskLine(
        trans,
        risk({
          work_seconds: 0,
          rebuild_variables: 1,
          rebuild_cells: 1,
          rebuild_seconds: null,
          lost_variables: 1
        })
      )
    ).toBe(
      'If this machine vanished now: no work since the last snapshot, 1 variable that would be rebuilt by re-running 1 cell, 1 variable that could not be rebuilt'
    );
    expect(
      riskLine(
        trans,
        risk({ work_seconds: null, unsnapshotted: 1, rebuild_variables: 0 })
      )
    ).toBe(
      'If this machine vanished now: the work of kernels never snapshotted'
    );
  });

  it('is not shown without a kernel', () => {
    expect(riskLine(trans, readRisk({ kernels: [] }))).toBeNull();
    expect(riskLine(trans, null)).toBeNull();
  });
});

describe('the readers', () => {
  it('refuse an answer that is not ours and fill in what is missing', () => {
    expect(() => readIdleState('<html>')).toThrow('gpuguard/idle');
    const state = readIdleState({ phase: 'warp', action: 'explode' });
    expect(state.phase).toBe('watching');
    expect(state.action).toBe('none');
    expect(state.seconds_left).toBeNull();
    expect(state.gpu_utilisation).toBeNull();
    const empty = readRisk(null);
    expect(empty.kernels).toEqual([]);
    expect(empty.work_seconds).toBeNull();
  });
});
