import { readInstanceInfo } from '../../api/instance';
import { readKeyState, readLaunchDefaults, readPodList } from '../../api/pods';
import {
  readRebuildPlan,
  readRestoreReport,
  readSnapshotStatus
} from '../../api/snapshots';

describe('readInstanceInfo', () => {
  it('fills in what an older server leaves out', () => {
    const info = readInstanceInfo({ provider: 'aws' });
    expect(info).toMatchObject({
      provider: 'aws',
      gpu_count: 0,
      interruptible: null,
      price_per_hour: null,
      currency: 'USD',
      preemption_notice: null,
      detecting: false,
      warnings: []
    });
  });

  it('shows no price that is zero or negative', () => {
    const info = readInstanceInfo({
      provider: 'runpod',
      price_per_hour: 0,
      on_demand_price_per_hour: -1
    });
    expect(info.price_per_hour).toBeNull();
    expect(info.on_demand_price_per_hour).toBeNull();
    expect(
      readInstanceInfo({ provider: 'runpod', price_per_hour: 0.44 })
        .price_per_hour
    ).toBe(0.44);
  });

  it('reads a preemption notice without a deadline', () => {
    const info = readInstanceInfo({
      provider: 'aws',
      preemption_notice: { source: 'AWS spot' }
    });
    expect(info.preemption_notice).toEqual({
      deadline: null,
      source: 'AWS spot'
    });
  });

  it('refuses an answer that is not from this extension', () => {
    expect(() => readInstanceInfo('<html></html>')).toThrow(
      'unexpected answer from gpuguard/instance'
    );
  });
});

describe('readSnapshotStatus', () => {
  it('fills in the store and the kernels', () => {
    const status = readSnapshotStatus({
      kernels: [{ kernel_id: 'k1', attached: true }],
      store: { path: '/workspace/.gpuguard' }
    });
    expect(status.interval_seconds).toBe(0);
    expect(status.store).toEqual({
      path: '/workspace/.gpuguard',
      bytes: 0,
      persistent: null,
      persistent_reason: '',
      problems: []
    });
    expect(status.kernels[0]).toMatchObject({
      kernel_id: 'k1',
      attached: true,
      in_flight: false,
      supported: null,
      last_snapshot: null,
      execution_count: null
    });
  });

  it('drops an emergency that does not say when it started', () => {
    expect(
      readSnapshotStatus({ kernels: [], emergency: { reason: 'SIGTERM' } })
        .emergency
    ).toBeNull();
    const emergency = readSnapshotStatus({
      kernels: [],
      emergency: {
        reason: 'SIGTERM',
        started: 100,
        kernels: { k1: { snapshot: 's1' } }
      }
    }).emergency;
    expect(emergency).toEqual({
      reason: 'SIGTERM',
      started: 100,
      finished: null,
      kernels: { k1: { snapshot: 's1', error: null } },
      replica: null
    });
  });

  it('refuses an answer without kernels', () => {
    expect(() => readSnapshotStatus({})).toThrow(
      'unexpected answer from gpuguard/status'
    );
  });
});

describe('readRestoreReport', () => {
  it('names the snapshot asked for when the report does not', () => {
    const report = readRestoreReport({ restored: ['df'] }, 'snap-1');
    expect(report.snapshot).toBe('snap-1');
    expect(report.restored).toEqual(['df']);
    expect(report.plan).toBeNull();
  });

  it('reads where a skipped variable was defined', () => {
    const report = readRestoreReport(
      {
        skipped: [
          { name: 'conn', type: 'socket', reason: 'not picklable' },
          {
            name: 'gen',
            type: 'generator',
            reason: 'not picklable',
            defined_in: { execution_count: 4, source: 'gen = f()' }
          }
        ]
      },
      'snap-1'
    );
    expect(report.skipped[0].defined_in).toBeNull();
    expect(report.skipped[1].defined_in).toEqual({
      execution_count: 4,
      source: 'gen = f()'
    });
  });

  it('reads a plan the same way as the plan route', () => {
    const plan = { summary: 'Rebuild gen?', targets: ['gen'] };
    expect(readRestoreReport({ plan }, 's').plan).toEqual(
      readRebuildPlan(plan)
    );
    expect(readRebuildPlan(plan)).toEqual({
      summary: 'Rebuild gen?',
      targets: ['gen'],
      rebuildable: [],
      cells: [],
      unrebuildable: {}
    });
  });
});

describe('RunPod readers', () => {
  it('never takes an unknown key source for a known one', () => {
    expect(readKeyState({ configured: true, source: 'panel' })).toMatchObject({
      configured: true,
      source: 'panel'
    });
    expect(readKeyState({ configured: 'yes', source: 'clipboard' })).toEqual({
      configured: false,
      source: null,
      source_text: null,
      checked: false,
      warning: null
    });
  });

  it('reads the pod list and its pods', () => {
    const list = readPodList({
      pods: [{ id: 'p1', name: 'a', status: 'running', cost_per_hour: 0.44 }],
      balance: 12.5
    });
    expect(list.balance).toBe(12.5);
    expect(list.this_pod).toBeNull();
    expect(list.pods[0]).toMatchObject({
      id: 'p1',
      status: 'running',
      cost_per_hour: 0.44,
      gpu: null,
      interruptible: null,
      url: ''
    });
  });

  it('starts a launch with one GPU when the server does not say', () => {
    expect(readLaunchDefaults({}).gpu_count).toBe(1);
  });
});
