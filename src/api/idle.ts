import {
  fieldsOf,
  listOf,
  numberOr,
  objectOrNull,
  requestAnswer,
  textListOf,
  textOf,
  textOrNull
} from './request';

/**
 * Where idle stop is: off, counting (watching, then warning), or stopping.
 */
export type IdlePhase =
  'off' | 'watching' | 'warning' | 'snapshotting' | 'stopping' | 'stopped';

/**
 * How the machine stops: RunPod's podStop, `c.GpuGuard.idle_stop_command`, or
 * not at all.
 */
export type IdleAction = 'runpod' | 'command' | 'none';

/**
 * What a stopped RunPod pod still costs (its disks).
 */
export interface IStoppedCost {
  per_month: number | null;
  per_hour: number | null;
  volume_gb: number;
  network_volume_gb: number;
  basis: string;
  error: string | null;
}

/**
 * The last try to stop the machine.
 */
export interface ILastStop {
  at: number;
  ok: boolean;
  message: string;
}

/**
 * The answer of `GET gpuguard/idle`.
 */
export interface IIdleState {
  /**
   * The server's clock when it answered (Unix seconds).
   */
  now: number;
  enabled: boolean;
  /**
   * Seconds of idleness before the stop; null when off.
   */
  stop_after: number | null;
  setting_source: string;
  warn_before: number;
  phase: IdlePhase;
  idle_since: number;
  idle_seconds: number;
  /**
   * The last activity seen, in words.
   */
  last_activity: string;
  active_now: string[];
  /**
   * Seconds left before the stop, when one is counted down.
   */
  seconds_left: number | null;
  action: IdleAction;
  action_text: string;
  price_per_hour: number | null;
  currency: string;
  idle_cost: number | null;
  stopped_cost: IStoppedCost | null;
  gpu_utilisation: number[] | null;
  last_stop: ILastStop | null;
}

/**
 * What rebuilding one kernel's last snapshot would re-run.
 */
export interface IKernelRebuild {
  variables: string[];
  cells: number;
  seconds: number | null;
  lost: string[];
}

/**
 * One kernel in the answer of `GET gpuguard/risk`.
 */
export interface IKernelRisk {
  kernel_id: string;
  notebook: string | null;
  last_snapshot_at: number | null;
  busy: boolean;
  work_seconds: number | null;
  rebuild: IKernelRebuild | null;
}

/**
 * The answer of `GET gpuguard/risk`: what a preemption would cost now.
 */
export interface IRisk {
  kernels: IKernelRisk[];
  work_seconds: number | null;
  unsnapshotted: number;
  rebuild_variables: number;
  rebuild_cells: number;
  rebuild_seconds: number | null;
  lost_variables: number;
}

const PHASES: IdlePhase[] = [
  'off',
  'watching',
  'warning',
  'snapshotting',
  'stopping',
  'stopped'
];
const ACTIONS: IdleAction[] = ['runpod', 'command', 'none'];

/**
 * Read an answer of `gpuguard/idle`.
 */
export function readIdleState(data: unknown): IIdleState {
  const answer = fieldsOf(data);
  if (typeof answer.phase !== 'string') {
    throw new Error('unexpected answer from gpuguard/idle');
  }
  const phase = PHASES.find(p => p === answer.phase) ?? 'watching';
  const action = ACTIONS.find(a => a === answer.action) ?? 'none';
  const gpu = Array.isArray(answer.gpu_utilisation)
    ? listOf(answer.gpu_utilisation, item => numberOr(item, 0))
    : null;
  return {
    now: numberOr(answer.now, Date.now() / 1000),
    enabled: answer.enabled === true,
    stop_after: numberOr(answer.stop_after, null),
    setting_source: textOf(answer.setting_source),
    warn_before: numberOr(answer.warn_before, 300),
    phase,
    idle_since: numberOr(answer.idle_since, 0),
    idle_seconds: numberOr(answer.idle_seconds, 0),
    last_activity: textOf(answer.last_activity),
    active_now: textListOf(answer.active_now),
    seconds_left: numberOr(answer.seconds_left, null),
    action,
    action_text: textOf(answer.action_text),
    price_per_hour: numberOr(answer.price_per_hour, null),
    currency: textOf(answer.currency) || 'USD',
    idle_cost: numberOr(answer.idle_cost, null),
    stopped_cost: objectOrNull(answer.stopped_cost, readStoppedCost),
    gpu_utilisation: gpu,
    last_stop: objectOrNull(answer.last_stop, readLastStop)
  };
}

function readStoppedCost(data: unknown): IStoppedCost {
  const cost = fieldsOf(data);
  return {
    per_month: numberOr(cost.per_month, null),
    per_hour: numberOr(cost.per_hour, null),
    volume_gb: numberOr(cost.volume_gb, 0),
    network_volume_gb: numberOr(cost.network_volume_gb, 0),
    basis: textOf(cost.basis),
    error: textOrNull(cost.error)
  };
}

function readLastStop(data: unknown): ILastStop {
  const stop = fieldsOf(data);
  return {
    at: numberOr(stop.at, 0),
    ok: stop.ok === true,
    message: textOf(stop.message)
  };
}

/**
 * Read an answer of `gpuguard/risk`.
 */
export function readRisk(data: unknown): IRisk {
  const answer = fieldsOf(data);
  return {
    kernels: listOf(answer.kernels, readKernelRisk),
    work_seconds: numberOr(answer.work_seconds, null),
    unsnapshotted: numberOr(answer.unsnapshotted, 0),
    rebuild_variables: numberOr(answer.rebuild_variables, 0),
    rebuild_cells: numberOr(answer.rebuild_cells, 0),
    rebuild_seconds: numberOr(answer.rebuild_seconds, null),
    lost_variables: numberOr(answer.lost_variables, 0)
  };
}

function readKernelRisk(data: unknown): IKernelRisk {
  const kernel = fieldsOf(data);
  return {
    kernel_id: textOf(kernel.kernel_id),
    notebook: textOrNull(kernel.notebook),
    last_snapshot_at: numberOr(kernel.last_snapshot_at, null),
    busy: kernel.busy === true,
    work_seconds: numberOr(kernel.work_seconds, null),
    rebuild: objectOrNull(kernel.rebuild, readRebuild)
  };
}

function readRebuild(data: unknown): IKernelRebuild {
  const rebuild = fieldsOf(data);
  return {
    variables: textListOf(rebuild.variables),
    cells: numberOr(rebuild.cells, 0),
    seconds: numberOr(rebuild.seconds, null),
    lost: textListOf(rebuild.lost)
  };
}

/**
 * The idle countdown and its cost.
 */
export function fetchIdle(): Promise<IIdleState> {
  return requestAnswer('idle', readIdleState);
}

/**
 * Count the idle time again from now.
 */
export function keepRunning(): Promise<IIdleState> {
  return requestAnswer('idle/keep-running', readIdleState, {
    method: 'POST',
    body: '{}'
  });
}

/**
 * Turn idle stop on after `seconds` of idleness, or off with null; kept by
 * the server for its life.
 */
export function setIdleStopAfter(seconds: number | null): Promise<IIdleState> {
  return requestAnswer('idle/settings', readIdleState, {
    method: 'POST',
    body: JSON.stringify({ stop_after: seconds })
  });
}

/**
 * What a preemption would cost now.
 */
export function fetchRisk(): Promise<IRisk> {
  return requestAnswer('risk', readRisk);
}
