import { IIdleState } from '../../api/idle';
import {
  IDLE_REFRESH_INTERVAL,
  IdleModel,
  WARNING_REFRESH_INTERVAL
} from '../../idle/model';
import { idleState, risk } from './fixtures';

/**
 * A model over a server the test plays: its state changes with the actions.
 */
function modelOver(initial: IIdleState) {
  let state = initial;
  const calls: string[] = [];
  const model = new IdleModel({
    auto: false,
    fetchIdle: async () => state,
    fetchRisk: async () => risk(),
    keepRunning: async () => {
      calls.push('keep-running');
      state = { ...state, phase: 'watching', seconds_left: 3600 };
      return state;
    },
    setStopAfter: async seconds => {
      calls.push(`stop-after ${seconds}`);
      if (seconds === -1) {
        throw new Error('stop_after must be a number of seconds');
      }
      state = {
        ...state,
        stop_after: seconds,
        enabled: seconds !== null,
        phase: seconds === null ? 'off' : 'watching'
      };
      return state;
    }
  });
  return { model, calls };
}

describe('IdleModel', () => {
  it('keeps the countdown and the risk', async () => {
    const { model } = modelOver(idleState());
    await model.refresh();
    expect(model.state?.seconds_left).toBe(300);
    expect(model.risk?.rebuild_variables).toBe(2);
    model.dispose();
  });

  it('polls fast while the warning is due, slowly otherwise', async () => {
    const { model } = modelOver(idleState());
    await model.refresh();
    expect(model['currentInterval']()).toBe(WARNING_REFRESH_INTERVAL);
    await model.keepRunning();
    expect(model.state?.phase).toBe('watching');
    expect(model['currentInterval']()).toBe(IDLE_REFRESH_INTERVAL);
    model.dispose();
  });

  it('turns idle stop on and off, and says why an action failed', async () => {
    const { model, calls } = modelOver(idleState({ phase: 'off' }));
    await model.setStopAfter(1800);
    expect(model.state?.stop_after).toBe(1800);
    await model.setStopAfter(null);
    expect(model.state?.phase).toBe('off');
    await model.setStopAfter(-1);
    expect(model.actionError).toContain('stop_after');
    expect(model.state?.phase).toBe('off'); // a refused setting changes nothing
    expect(calls).toEqual([
      'stop-after 1800',
      'stop-after null',
      'stop-after -1'
    ]);
    model.dispose();
  });

  it('shows the countdown even when the risk cannot be read', async () => {
    const model = new IdleModel({
      auto: false,
      fetchIdle: async () => idleState(),
      fetchRisk: async () => {
        throw new Error('down');
      }
    });
    await model.refresh();
    expect(model.state).not.toBeNull();
    expect(model.risk).toBeNull();
    expect(model.error).toBeNull();
    model.dispose();
  });
});
