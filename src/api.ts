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

/**
 * One variable kept in a snapshot.
 */
export interface ISnapshotVariable {
  name: string;
  type: string;
  bytes: number;
}

/**
 * One variable a snapshot left out, and why.
 */
export interface ISkippedVariable {
  name: string;
  type: string;
  reason: string;
}

/**
 * A snapshot of a kernel's variables.
 */
export interface ISnapshotInfo {
  id: string;
  /**
   * ISO 8601 time of the snapshot.
   */
  created: string;
  notebook: string | null;
  kernel_id: string | null;
  variables: ISnapshotVariable[];
  skipped: ISkippedVariable[];
  /**
   * Size of the variables, in bytes.
   */
  bytes_total: number;
  /**
   * Bytes this snapshot added to the store (unchanged data is shared).
   */
  bytes_written: number;
  /**
   * Imported modules: alias -> module.
   */
  modules: { [alias: string]: string };
  /**
   * The kernel's next cell number when the snapshot was taken.
   */
  execution_count: number | null;
  duration_seconds: number | null;
  notes: string[];
}

/**
 * The snapshot state of one kernel, from `GET gpuguard/status`.
 */
export interface IKernelSnapshotState {
  kernel_id: string;
  notebook: string | null;
  language: string | null;
  /**
   * Execution state: "idle", "busy", "starting"...
   */
  state: string | null;
  /**
   * Whether the kernel can be snapshotted; null until known.
   */
  supported: boolean | null;
  /**
   * Why it is not supported, or why snapshots could not be set up.
   */
  reason: string;
  attached: boolean;
  /**
   * A snapshot is being written.
   */
  in_flight: boolean;
  last_snapshot: ISnapshotInfo | null;
  /**
   * Unix time (seconds) of the last snapshot.
   */
  last_snapshot_at: number | null;
  last_error: string | null;
  /**
   * Unix time (seconds) of the next automatic snapshot.
   */
  next_due: number | null;
  /**
   * The kernel's next cell number: 1 means nothing ran yet; null when unknown.
   */
  execution_count: number | null;
}

/**
 * A snapshot of every kernel at once, after a preemption notice or SIGTERM.
 */
export interface IEmergency {
  reason: string;
  /**
   * Unix time (seconds).
   */
  started: number;
  /**
   * Unix time (seconds); null while it runs.
   */
  finished: number | null;
  kernels: {
    [kernelId: string]: { snapshot: string | null; error: string | null };
  };
}

/**
 * Where snapshots are stored.
 */
export interface ISnapshotStore {
  path: string;
  bytes: number;
  /**
   * Whether the store outlives the machine; null when unknown.
   */
  persistent: boolean | null;
  persistent_reason: string;
}

/**
 * The answer of `GET gpuguard/status`.
 */
export interface ISnapshotStatus {
  kernels: IKernelSnapshotState[];
  /**
   * Seconds between automatic snapshots; 0 when they are off.
   */
  interval_seconds: number;
  interval_reason: string;
  emergency: IEmergency | null;
  store: ISnapshotStore;
}

/**
 * A variable a restore left out.
 */
export interface IRestoreSkipped extends ISkippedVariable {
  /**
   * The cell that defined it, to run again.
   */
  defined_in: { execution_count: number | null; source: string } | null;
}

/**
 * The answer of `POST gpuguard/snapshots/{id}/restore`.
 */
export interface IRestoreReport {
  snapshot: string;
  restored: string[];
  modules: string[];
  skipped: IRestoreSkipped[];
  failed: { name: string; error: string }[];
  notes: string[];
}

/**
 * Every kernel's snapshot state.
 */
export async function fetchSnapshotStatus(): Promise<ISnapshotStatus> {
  const data = await requestAPI<Partial<ISnapshotStatus>>('status');
  if (!data || typeof data !== 'object' || !Array.isArray(data.kernels)) {
    throw new Error('unexpected answer from gpuguard/status');
  }
  return {
    kernels: data.kernels,
    interval_seconds:
      typeof data.interval_seconds === 'number' ? data.interval_seconds : 0,
    interval_reason: data.interval_reason ?? '',
    emergency: data.emergency ?? null,
    store: data.store ?? {
      path: '',
      bytes: 0,
      persistent: null,
      persistent_reason: ''
    }
  };
}

/**
 * The snapshots of a notebook (every snapshot without one), newest first.
 */
export async function listSnapshots(
  notebook?: string
): Promise<ISnapshotInfo[]> {
  const query = notebook ? `?notebook=${encodeURIComponent(notebook)}` : '';
  const data = await requestAPI<ISnapshotInfo[]>(`snapshots${query}`);
  return Array.isArray(data) ? data : [];
}

/**
 * Snapshot a kernel now; resolves once the snapshot is committed.
 */
export async function createSnapshot(kernelId: string): Promise<ISnapshotInfo> {
  return requestAPI<ISnapshotInfo>('snapshots', {
    method: 'POST',
    body: JSON.stringify({ kernel_id: kernelId })
  });
}

/**
 * Delete a snapshot.
 */
export async function deleteSnapshot(snapshotId: string): Promise<void> {
  await requestAPI<unknown>(`snapshots/${encodeURIComponent(snapshotId)}`, {
    method: 'DELETE'
  });
}

/**
 * Restore a snapshot into a running kernel.
 */
export async function restoreSnapshot(
  snapshotId: string,
  kernelId: string
): Promise<IRestoreReport> {
  const report = await requestAPI<Partial<IRestoreReport>>(
    `snapshots/${encodeURIComponent(snapshotId)}/restore`,
    { method: 'POST', body: JSON.stringify({ kernel_id: kernelId }) }
  );
  return {
    snapshot: report.snapshot ?? snapshotId,
    restored: report.restored ?? [],
    modules: report.modules ?? [],
    skipped: (report.skipped ?? []).map(s => ({
      ...s,
      defined_in: s.defined_in ?? null
    })),
    failed: report.failed ?? [],
    notes: report.notes ?? []
  };
}
