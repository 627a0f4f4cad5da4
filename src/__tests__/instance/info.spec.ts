import { nullTranslator } from '@jupyterlab/translation';

import {
  currentCost,
  elapsedSeconds,
  gpuLabel,
  noticeKey,
  providerName,
  savingPercent,
  statusText
} from '../../instance/info';
import { instanceInfo } from './fixtures';

const trans = nullTranslator.load('jupyter_gpuguard');

describe('the cost of the session', () => {
  it('ticks on from the server answer at the hourly price', () => {
    const info = instanceInfo({ session_cost: 1, price_per_hour: 2 });
    const halfAnHour = 1_800_000;
    expect(currentCost(info, 1000, 1000 + halfAnHour)).toBeCloseTo(2);
    expect(currentCost(info, 1000, 0)).toBe(1);
  });

  it('is unknown without a session cost, and stands still without a price', () => {
    expect(currentCost(instanceInfo({ session_cost: null }), 0, 1e6)).toBe(
      null
    );
    expect(
      currentCost(
        instanceInfo({ session_cost: 3, price_per_hour: null }),
        0,
        1e6
      )
    ).toBe(3);
  });

  it('tells the billed time from the uptime, or from cost and price', () => {
    expect(
      elapsedSeconds(instanceInfo({ uptime_seconds: 60 }), 0, 10_000)
    ).toBe(70);
    expect(
      elapsedSeconds(
        instanceInfo({ session_cost: 0.5, price_per_hour: 1 }),
        0,
        0
      )
    ).toBe(1800);
    expect(
      elapsedSeconds(instanceInfo({ session_cost: null }), 0, 0)
    ).toBeNull();
  });

  it('gives the saving of spot in whole percent, when there is one', () => {
    expect(savingPercent(instanceInfo())).toBe(50);
    expect(
      savingPercent(instanceInfo({ on_demand_price_per_hour: 0.25 }))
    ).toBeNull();
  });
});

describe('instance labels', () => {
  it('names the GPUs', () => {
    expect(gpuLabel(instanceInfo({ gpu_count: 2 }))).toBe('2× RTX A6000');
    expect(gpuLabel(instanceInfo({ gpu_name: null, gpu_count: 0 }))).toBe(null);
  });

  it('sums the instance up in one line', () => {
    expect(statusText(instanceInfo(), trans)).toBe(
      'RTX A6000 · spot · $0.25/h'
    );
    expect(
      statusText(
        instanceInfo({
          provider: 'local',
          gpu_name: null,
          gpu_count: 0,
          interruptible: null,
          price_per_hour: null
        }),
        trans
      )
    ).toBe('no GPU · local');
    expect(
      statusText(
        instanceInfo({ interruptible: false, price_per_hour: null }),
        trans
      )
    ).toBe('RTX A6000 · on-demand · price unknown');
  });

  it('names providers', () => {
    expect(providerName('gcp', trans)).toBe('Google Cloud');
    expect(providerName('other', trans)).toBe('other');
  });

  it('tells preemption notices apart by source and deadline', () => {
    const notice = (deadline: string | null) =>
      noticeKey(
        instanceInfo({ preemption_notice: { source: 'AWS', deadline } })
      );
    expect(notice('2024-01-01T00:00:00Z')).not.toBe(notice(null));
    expect(noticeKey(instanceInfo())).toBeNull();
  });
});
