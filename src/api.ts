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
    const field = (name: string): string =>
      data && typeof data === 'object' && typeof data[name] === 'string'
        ? data[name]
        : '';
    throw new GpuGuardRequestError(
      response,
      field('message') || undefined,
      (field('reason') || null) as PodErrorReason | null
    );
  }

  return data as T;
}

/**
 * A failed call to our routes: the server's message, and its reason when it gave one.
 */
export class GpuGuardRequestError extends ServerConnection.ResponseError {
  constructor(
    response: Response,
    message: string | undefined,
    readonly reason: PodErrorReason | null
  ) {
    super(response, message);
  }

  get status(): number {
    return this.response.status;
  }
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
  /**
   * Manifests the store skips (damaged or not ours), each "<id>: why".
   */
  problems: string[];
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
  /**
   * Why the last background prune failed; null when it worked.
   */
  prune_error: string | null;
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
 * A cell a rebuild re-runs.
 */
export interface IPlannedCell {
  execution_count: number;
  source: string;
  /**
   * Why re-running it may give another result or act twice (network, files, …).
   */
  flags: string[];
  /**
   * The variables it helps rebuild.
   */
  rebuilds: string[];
}

/**
 * The cells that rebuild what a snapshot could not save
 * (`GET gpuguard/snapshots/{id}/plan`).
 */
export interface IRebuildPlan {
  /**
   * E.g. "Rebuild gen, conn by re-running 2 cells (cells 4, 9)?"
   */
  summary: string;
  targets: string[];
  rebuildable: string[];
  cells: IPlannedCell[];
  /**
   * Why a variable cannot be rebuilt, by name.
   */
  unrebuildable: Record<string, string>;
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
  /**
   * Variables brought back by re-running their cells.
   */
  rebuilt: string[];
  replayed: { execution_count: number; ok: boolean; error: string | null }[];
  plan: IRebuildPlan | null;
}

/**
 * What restoring a snapshot would re-run to rebuild what it could not save.
 */
export async function fetchRebuildPlan(
  snapshotId: string
): Promise<IRebuildPlan> {
  const plan = await requestAPI<Partial<IRebuildPlan>>(
    `snapshots/${encodeURIComponent(snapshotId)}/plan`
  );
  return {
    summary: plan.summary ?? '',
    targets: plan.targets ?? [],
    rebuildable: plan.rebuildable ?? [],
    cells: plan.cells ?? [],
    unrebuildable: plan.unrebuildable ?? {}
  };
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
    prune_error: data.prune_error ?? null,
    store: {
      path: data.store?.path ?? '',
      bytes: data.store?.bytes ?? 0,
      persistent: data.store?.persistent ?? null,
      persistent_reason: data.store?.persistent_reason ?? '',
      problems: Array.isArray(data.store?.problems) ? data.store.problems : []
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
  kernelId: string,
  rebuild = false
): Promise<IRestoreReport> {
  const report = await requestAPI<Partial<IRestoreReport>>(
    `snapshots/${encodeURIComponent(snapshotId)}/restore`,
    {
      method: 'POST',
      body: JSON.stringify({ kernel_id: kernelId, rebuild })
    }
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
    notes: report.notes ?? [],
    rebuilt: report.rebuilt ?? [],
    replayed: report.replayed ?? [],
    plan: report.plan ?? null
  };
}

/**
 * Why a RunPod call failed, as the server classifies it.
 */
export type PodErrorReason =
  | 'no-key'
  | 'key-rejected'
  | 'no-gpus'
  | 'balance'
  | 'not-found'
  | 'runpod-error'
  | 'unreachable'
  | 'invalid'
  | 'not-on-runpod'
  | 'snapshot-failed'
  | 'template-name';

/**
 * A failed RunPod call (see `PodErrorReason`).
 */
export const PodRequestError = GpuGuardRequestError;
export type PodRequestError = GpuGuardRequestError;

/**
 * Whether a RunPod API key is set, and where it comes from (never the key itself).
 */
export interface IRunPodKeyState {
  configured: boolean;
  source: 'panel' | 'setting' | 'environment' | 'config-file' | null;
  source_text: string | null;
  checked?: boolean;
  warning?: string | null;
}

/**
 * A GPU type RunPod offers, with its prices per GPU and hour.
 */
export interface IGpuType {
  id: string;
  name: string;
  memory_gb: number | null;
  max_gpu_count: number | null;
  secure_cloud: boolean;
  community_cloud: boolean;
  secure_price: number | null;
  community_price: number | null;
  secure_spot_price: number | null;
  community_spot_price: number | null;
  /**
   * RunPod's stock level ("high", "medium", "low"), when it says.
   */
  stock: string | null;
}

/**
 * A network volume of the user's RunPod account.
 */
export interface INetworkVolume {
  id: string;
  name: string;
  size_gb: number | null;
  data_center: string | null;
}

/**
 * One of the user's pods.
 */
export interface IPod {
  id: string;
  name: string;
  status: 'starting' | 'running' | 'stopped' | 'terminated' | string;
  gpu: string | null;
  gpu_count: number | null;
  cost_per_hour: number | null;
  interruptible: boolean | null;
  image: string | null;
  uptime_seconds: number | null;
  url: string;
}

/**
 * The user's pods and RunPod balance.
 */
export interface IPodList {
  pods: IPod[];
  balance: number | null;
  this_pod: string | null;
}

/**
 * What the launch form starts from (this pod's GPU, image and volume on RunPod).
 */
export interface ILaunchDefaults {
  this_pod: string | null;
  name: string;
  image: string;
  ports: string;
  gpu_type_id: string | null;
  gpu_count: number;
  network_volume_id: string | null;
  data_center: string | null;
  interruptible: boolean | null;
  /**
   * The new pod's start command (RunPod's dockerArgs): install the extension
   * from the volume's wheelhouse, then run the image's own start.
   */
  start_command: string;
}

export type CloudType = 'SECURE' | 'COMMUNITY' | 'ALL';

/**
 * A request to launch an on-demand pod.
 */
export interface ILaunchRequest {
  name: string;
  gpu_type_id: string;
  gpu_count: number;
  cloud_type: CloudType;
  image: string;
  network_volume_id: string | null;
  container_disk_gb?: number;
  volume_gb?: number;
  env?: Record<string, string>;
  /**
   * Replaces the default start command; checked by the server.
   */
  start_command?: string;
}

/**
 * The answer to a launch or a move.
 */
export interface ILaunched {
  pod: IPod;
  url: string;
  snapshots?: Record<string, { snapshot: string | null; error: string | null }>;
}

function podRequest<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
  return requestAPI<T>(`runpod/${endPoint}`, init);
}

export function fetchRunPodKey(): Promise<IRunPodKeyState> {
  return podRequest<IRunPodKeyState>('key');
}

export function saveRunPodKey(key: string): Promise<IRunPodKeyState> {
  return podRequest<IRunPodKeyState>('key', {
    method: 'PUT',
    body: JSON.stringify({ key })
  });
}

export function forgetRunPodKey(): Promise<IRunPodKeyState> {
  return podRequest<IRunPodKeyState>('key', { method: 'DELETE' });
}

export async function fetchGpuTypes(): Promise<IGpuType[]> {
  const data = await podRequest<{ gpu_types: IGpuType[] }>('gpu-types');
  return Array.isArray(data?.gpu_types) ? data.gpu_types : [];
}

export async function fetchVolumes(): Promise<INetworkVolume[]> {
  const data = await podRequest<{ volumes: INetworkVolume[] }>('volumes');
  return Array.isArray(data?.volumes) ? data.volumes : [];
}

export async function fetchPods(): Promise<IPodList> {
  const data = await podRequest<IPodList>('pods');
  return {
    pods: Array.isArray(data?.pods) ? data.pods : [],
    balance: typeof data?.balance === 'number' ? data.balance : null,
    this_pod: data?.this_pod ?? null
  };
}

export function fetchLaunchDefaults(): Promise<ILaunchDefaults> {
  return podRequest<ILaunchDefaults>('launch-defaults');
}

export function launchPod(request: ILaunchRequest): Promise<ILaunched> {
  return podRequest<ILaunched>('pods', {
    method: 'POST',
    body: JSON.stringify(request)
  });
}

export function fetchPod(podId: string): Promise<IPod> {
  return podRequest<IPod>(`pods/${encodeURIComponent(podId)}`);
}

export function stopPod(
  podId: string
): Promise<{ id: string; status: string }> {
  return podRequest(`pods/${encodeURIComponent(podId)}/stop`, {
    method: 'POST',
    body: '{}'
  });
}

export function terminatePod(
  podId: string
): Promise<{ id: string; status: string }> {
  return podRequest(`pods/${encodeURIComponent(podId)}`, { method: 'DELETE' });
}

export function moveSession(
  request: Partial<
    Pick<ILaunchRequest, 'gpu_type_id' | 'cloud_type' | 'network_volume_id'>
  > = {}
): Promise<ILaunched> {
  return podRequest<ILaunched>('move-session', {
    method: 'POST',
    body: JSON.stringify(request)
  });
}

/**
 * A RunPod template saved from the panel (env values are never echoed back).
 */
export interface ISavedTemplate {
  id: string;
  name: string;
  image: string;
  ports: string;
  volume_mount_path: string;
  start_command: string;
}

/**
 * Save a RunPod template like this pod, for pods started from RunPod's console.
 */
export function saveTemplate(
  name: string
): Promise<{ template: ISavedTemplate; url: string }> {
  return podRequest('templates', {
    method: 'POST',
    body: JSON.stringify({ name })
  });
}

/**
 * On a pod a session was moved to: where from, and the notebooks to open.
 */
export interface IMovedSession {
  from_pod: string | null;
  notebooks: string[];
}

export async function fetchMovedSession(): Promise<IMovedSession> {
  const data = await podRequest<Partial<IMovedSession>>('moved');
  return {
    from_pod: typeof data?.from_pod === 'string' ? data.from_pod : null,
    notebooks: Array.isArray(data?.notebooks)
      ? data.notebooks.filter((p): p is string => typeof p === 'string')
      : []
  };
}
