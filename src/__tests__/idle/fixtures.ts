import { IIdleState, IRisk, readIdleState, readRisk } from '../../api/idle';

/**
 * An idle stop answer as the server gives it: a RunPod pod at $2.49/h, idle
 * 55 min of a 1 h idle stop.
 */
export function idleState(overrides: Partial<IIdleState> = {}): IIdleState {
  return {
    ...readIdleState({
      now: 1_800_000_000,
      enabled: true,
      stop_after: 3600,
      setting_source: 'panel',
      warn_before: 300,
      phase: 'warning',
      idle_since: 1_800_000_000 - 3300,
      idle_seconds: 3300,
      last_activity: 'a cell ran in train.ipynb',
      active_now: [],
      seconds_left: 300,
      action: 'runpod',
      action_text: 'snapshot every kernel, then stop this pod (abc123xyz)',
      price_per_hour: 2.49,
      currency: 'USD',
      idle_cost: 2.2825,
      stopped_cost: {
        per_month: 11,
        per_hour: 0.01507,
        volume_gb: 20,
        network_volume_gb: 100,
        basis:
          '20 GB volume disk at $0.20/GB/month + 100 GB network volume at $0.07/GB/month'
      },
      gpu_utilisation: [0],
      last_stop: null
    }),
    ...overrides
  };
}

/**
 * What a preemption would cost: 14 min of work, 2 variables rebuilt by 3
 * cells in 40 s.
 */
export function risk(overrides: Partial<IRisk> = {}): IRisk {
  return {
    ...readRisk({
      kernels: [
        {
          kernel_id: 'k1',
          notebook: 'train.ipynb',
          last_snapshot_at: 1_800_000_000,
          busy: false,
          work_seconds: 840,
          rebuild: {
            variables: ['loader', 'db'],
            cells: 3,
            seconds: 40,
            lost: []
          }
        }
      ],
      work_seconds: 840,
      unsnapshotted: 0,
      rebuild_variables: 2,
      rebuild_cells: 3,
      rebuild_seconds: 40,
      lost_variables: 0
    }),
    ...overrides
  };
}
