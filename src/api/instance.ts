import {
  booleanOrNull,
  fieldsOf,
  numberOr,
  objectOrNull,
  requestAnswer,
  textListOf,
  textOf,
  textOrNull
} from './request';

/**
 * Where the Jupyter server runs.
 */
export type Provider = 'runpod' | 'aws' | 'gcp' | 'azure' | 'local' | 'manual';

/**
 * A notice from the cloud that the instance is about to be reclaimed.
 */
export interface IPreemptionNotice {
  /**
   * ISO 8601 time by which the instance will be taken away, when known.
   */
  deadline: string | null;
  /**
   * Where the notice came from, e.g. "AWS spot/instance-action (terminate)".
   */
  source: string;
}

/**
 * The answer of `GET gpuguard/instance`.
 */
export interface IInstanceInfo {
  provider: Provider;
  instance_type: string | null;
  gpu_name: string | null;
  gpu_count: number;
  gpu_memory_gb: number | null;
  region: string | null;
  /**
   * `true` for spot / interruptible, `false` for on-demand, `null` when unknown.
   */
  interruptible: boolean | null;
  /**
   * Price per hour; `null` when there is none (local machine) or it is unknown.
   */
  price_per_hour: number | null;
  on_demand_price_per_hour: number | null;
  currency: string;
  price_source: string;
  uptime_seconds: number | null;
  session_cost: number | null;
  session_cost_basis: string;
  preemption_notice: IPreemptionNotice | null;
  /**
   * One sentence for the user, e.g. why something is unknown.
   */
  detail: string;
  /**
   * Unix time (seconds) of the detection; `null` while the first one runs.
   */
  detected_at: number | null;
  /**
   * `true` while the first detection is still running.
   */
  detecting: boolean;
  warnings: string[];
}

/**
 * Alias kept for readability at call sites.
 */
export type InstanceInfo = IInstanceInfo;

/**
 * Fetch what the server knows about the machine it runs on.
 */
export function fetchInstance(): Promise<IInstanceInfo> {
  return requestAnswer('instance', readInstanceInfo);
}

/**
 * Read an answer of `gpuguard/instance`.
 *
 * @throws When it names no provider: that is not our server extension.
 */
export function readInstanceInfo(data: unknown): IInstanceInfo {
  const answer = fieldsOf(data);
  if (typeof answer.provider !== 'string') {
    throw new Error('unexpected answer from gpuguard/instance');
  }
  return {
    provider: answer.provider as Provider,
    instance_type: textOrNull(answer.instance_type),
    gpu_name: textOrNull(answer.gpu_name),
    gpu_count: numberOr(answer.gpu_count, 0),
    gpu_memory_gb: numberOr(answer.gpu_memory_gb, null),
    region: textOrNull(answer.region),
    interruptible: booleanOrNull(answer.interruptible),
    price_per_hour: positivePrice(answer.price_per_hour),
    on_demand_price_per_hour: positivePrice(answer.on_demand_price_per_hour),
    currency: textOf(answer.currency) || 'USD',
    price_source: textOf(answer.price_source),
    uptime_seconds: numberOr(answer.uptime_seconds, null),
    session_cost: numberOr(answer.session_cost, null),
    session_cost_basis: textOf(answer.session_cost_basis),
    preemption_notice: objectOrNull(answer.preemption_notice, readNotice),
    detail: textOf(answer.detail),
    detected_at: numberOr(answer.detected_at, null),
    detecting: answer.detecting === true,
    warnings: textListOf(answer.warnings)
  };
}

function readNotice(data: unknown): IPreemptionNotice {
  const notice = fieldsOf(data);
  return {
    deadline: textOrNull(notice.deadline),
    source: textOf(notice.source)
  };
}

/**
 * A usable price, or null: a zero or negative price is never shown.
 */
function positivePrice(value: unknown): number | null {
  const price = numberOr(value, null);
  return price !== null && price > 0 ? price : null;
}
