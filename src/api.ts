import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

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
 * Call the API extension.
 *
 * @param endPoint API REST end point for the extension
 * @param init Initial values for the request
 * @returns The response body interpreted as JSON
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const requestUrl = URLExt.join(settings.baseUrl, 'gpuguard', endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(requestUrl, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (e.g. an HTML 404 page): keep the text.
    }
  }

  if (!response.ok) {
    const message =
      data && typeof data === 'object' && typeof data.message === 'string'
        ? data.message
        : '';
    throw new ServerConnection.ResponseError(response, message || undefined);
  }

  return data as T;
}

/**
 * Fetch what the server knows about the machine it runs on.
 */
export async function fetchInstance(): Promise<IInstanceInfo> {
  const data = await requestAPI<Partial<IInstanceInfo>>('instance');
  if (!data || typeof data !== 'object' || typeof data.provider !== 'string') {
    throw new Error('unexpected answer from gpuguard/instance');
  }
  return normalize(data);
}

/**
 * Fill in the fields an older or partial server may leave out.
 */
function normalize(data: Partial<IInstanceInfo>): IInstanceInfo {
  return {
    provider: data.provider as Provider,
    instance_type: data.instance_type ?? null,
    gpu_name: data.gpu_name ?? null,
    gpu_count: typeof data.gpu_count === 'number' ? data.gpu_count : 0,
    gpu_memory_gb: data.gpu_memory_gb ?? null,
    region: data.region ?? null,
    interruptible:
      typeof data.interruptible === 'boolean' ? data.interruptible : null,
    price_per_hour: positive(data.price_per_hour),
    on_demand_price_per_hour: positive(data.on_demand_price_per_hour),
    currency: data.currency || 'USD',
    price_source: data.price_source ?? '',
    uptime_seconds: data.uptime_seconds ?? null,
    session_cost:
      typeof data.session_cost === 'number' && isFinite(data.session_cost)
        ? data.session_cost
        : null,
    session_cost_basis: data.session_cost_basis ?? '',
    preemption_notice: data.preemption_notice ?? null,
    detail: data.detail ?? '',
    detected_at: data.detected_at ?? null,
    detecting: data.detecting === true,
    warnings: Array.isArray(data.warnings) ? data.warnings : []
  };
}

/**
 * A usable price, or null: a zero or negative price is never shown.
 */
function positive(value: unknown): number | null {
  return typeof value === 'number' && isFinite(value) && value > 0
    ? value
    : null;
}
