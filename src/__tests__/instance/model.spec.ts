import { IInstanceInfo } from '../../api/instance';
import {
  DEFAULT_REFRESH_INTERVAL,
  InstanceModel,
  MIN_REFRESH_INTERVAL,
  SPOT_REFRESH_INTERVAL
} from '../../instance/model';
import { instanceInfo } from './fixtures';

/**
 * A model over answers the test sets, polling only when asked.
 */
function modelAnswering(answers: (IInstanceInfo | Error)[]): InstanceModel {
  return new InstanceModel({
    auto: false,
    refreshInterval: 30,
    fetch: async () => {
      const next = answers.length > 1 ? answers.shift()! : answers[0];
      if (next instanceof Error) {
        throw next;
      }
      return next;
    }
  });
}

describe('InstanceModel', () => {
  it('asks the server at once unless told not to', async () => {
    const fetch = jest.fn(async () => instanceInfo());
    const model = new InstanceModel({ fetch });
    await model.ready;
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(model.info?.gpu_name).toBe('RTX A6000');
    model.dispose();
  });

  it('is ready only once the first detection is over', async () => {
    const model = modelAnswering([
      instanceInfo({ detecting: true }),
      instanceInfo()
    ]);
    let ready = false;
    void model.ready.then(() => (ready = true));
    await model.refresh();
    await Promise.resolve();
    expect(ready).toBe(false);
    expect(model.effectiveInterval).toBe(1);
    await model.refresh();
    await model.ready;
    expect(ready).toBe(true);
    model.dispose();
  });

  it('is ready, with the error, when the route fails', async () => {
    const model = modelAnswering([new Error('404 Not Found')]);
    await model.refresh();
    await model.ready;
    expect(model.info).toBeNull();
    expect(model.error).toBe('404 Not Found');
    model.dispose();
  });

  it('polls at most every 5 s on a spot instance', async () => {
    const spot = modelAnswering([instanceInfo({ interruptible: true })]);
    await spot.refresh();
    expect(spot.effectiveInterval).toBe(SPOT_REFRESH_INTERVAL);
    spot.refreshInterval = 3;
    expect(spot.effectiveInterval).toBe(3);
    spot.dispose();

    const onDemand = modelAnswering([instanceInfo({ interruptible: false })]);
    await onDemand.refresh();
    expect(onDemand.effectiveInterval).toBe(30);
    onDemand.dispose();
  });

  it('keeps the interval the settings ask for within bounds', () => {
    const model = modelAnswering([instanceInfo()]);
    model.refreshInterval = 0.5;
    expect(model.refreshInterval).toBe(MIN_REFRESH_INTERVAL);
    model.refreshInterval = NaN;
    expect(model.refreshInterval).toBe(DEFAULT_REFRESH_INTERVAL);
    model.dispose();
  });
});
