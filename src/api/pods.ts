import {
  booleanOrNull,
  fieldsOf,
  GpuGuardRequestError,
  listOf,
  numberOr,
  requestAnswer,
  requestAPI,
  textOf,
  textOrNull
} from './request';

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
export type PodRequestError = GpuGuardRequestError<PodErrorReason>;

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
 * What "Move this session" may change from this pod: the rest stays as it is.
 */
export type MoveRequest = Partial<
  Pick<ILaunchRequest, 'gpu_type_id' | 'cloud_type' | 'network_volume_id'>
>;

/**
 * The answer to a launch or a move.
 */
export interface ILaunched {
  pod: IPod;
  url: string;
  snapshots?: Record<string, { snapshot: string | null; error: string | null }>;
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
 * A saved template and where RunPod's console lists it.
 */
export interface ISavedTemplateAnswer {
  template: ISavedTemplate;
  url: string;
}

/**
 * On a pod a session was moved to: where from, and the notebooks to open.
 */
export interface IMovedSession {
  from_pod: string | null;
  notebooks: string[];
}

export function fetchRunPodKey(): Promise<IRunPodKeyState> {
  return requestAnswer(podRoute('key'), readKeyState);
}

export function saveRunPodKey(key: string): Promise<IRunPodKeyState> {
  return requestAnswer(podRoute('key'), readKeyState, {
    method: 'PUT',
    body: JSON.stringify({ key })
  });
}

export function forgetRunPodKey(): Promise<IRunPodKeyState> {
  return requestAnswer(podRoute('key'), readKeyState, { method: 'DELETE' });
}

export function fetchGpuTypes(): Promise<IGpuType[]> {
  return requestAnswer(podRoute('gpu-types'), answer =>
    listOf(fieldsOf(answer).gpu_types, readGpuType)
  );
}

export function fetchVolumes(): Promise<INetworkVolume[]> {
  return requestAnswer(podRoute('volumes'), answer =>
    listOf(fieldsOf(answer).volumes, readVolume)
  );
}

export function fetchPods(): Promise<IPodList> {
  return requestAnswer(podRoute('pods'), readPodList);
}

export function fetchLaunchDefaults(): Promise<ILaunchDefaults> {
  return requestAnswer(podRoute('launch-defaults'), readLaunchDefaults);
}

export function launchPod(request: ILaunchRequest): Promise<ILaunched> {
  return requestAnswer(podRoute('pods'), readLaunched, {
    method: 'POST',
    body: JSON.stringify(request)
  });
}

export async function stopPod(podId: string): Promise<void> {
  await requestAPI(podRoute(`pods/${encodeURIComponent(podId)}/stop`), {
    method: 'POST',
    body: '{}'
  });
}

export async function terminatePod(podId: string): Promise<void> {
  await requestAPI(podRoute(`pods/${encodeURIComponent(podId)}`), {
    method: 'DELETE'
  });
}

export function moveSession(request: MoveRequest = {}): Promise<ILaunched> {
  return requestAnswer(podRoute('move-session'), readLaunched, {
    method: 'POST',
    body: JSON.stringify(request)
  });
}

/**
 * Save a RunPod template like this pod, for pods started from RunPod's console.
 */
export function saveTemplate(name: string): Promise<ISavedTemplateAnswer> {
  return requestAnswer(podRoute('templates'), readSavedTemplate, {
    method: 'POST',
    body: JSON.stringify({ name })
  });
}

export function fetchMovedSession(): Promise<IMovedSession> {
  return requestAnswer(podRoute('moved'), data => {
    const answer = fieldsOf(data);
    return {
      from_pod: textOrNull(answer.from_pod),
      notebooks: listOf(answer.notebooks).filter(
        (path): path is string => typeof path === 'string'
      )
    };
  });
}

function podRoute(endPoint: string): string {
  return `runpod/${endPoint}`;
}

const KEY_SOURCES: ReadonlyArray<IRunPodKeyState['source']> = [
  'panel',
  'setting',
  'environment',
  'config-file'
];

export function readKeyState(data: unknown): IRunPodKeyState {
  const answer = fieldsOf(data);
  const source = KEY_SOURCES.find(known => known === answer.source) ?? null;
  return {
    configured: answer.configured === true,
    source,
    source_text: textOrNull(answer.source_text),
    checked: answer.checked === true,
    warning: textOrNull(answer.warning)
  };
}

function readGpuType(data: unknown): IGpuType {
  const type = fieldsOf(data);
  return {
    id: textOf(type.id),
    name: textOf(type.name),
    memory_gb: numberOr(type.memory_gb, null),
    max_gpu_count: numberOr(type.max_gpu_count, null),
    secure_cloud: type.secure_cloud === true,
    community_cloud: type.community_cloud === true,
    secure_price: numberOr(type.secure_price, null),
    community_price: numberOr(type.community_price, null),
    secure_spot_price: numberOr(type.secure_spot_price, null),
    community_spot_price: numberOr(type.community_spot_price, null),
    stock: textOrNull(type.stock)
  };
}

function readVolume(data: unknown): INetworkVolume {
  const volume = fieldsOf(data);
  return {
    id: textOf(volume.id),
    name: textOf(volume.name),
    size_gb: numberOr(volume.size_gb, null),
    data_center: textOrNull(volume.data_center)
  };
}

export function readPod(data: unknown): IPod {
  const pod = fieldsOf(data);
  return {
    id: textOf(pod.id),
    name: textOf(pod.name),
    status: textOf(pod.status),
    gpu: textOrNull(pod.gpu),
    gpu_count: numberOr(pod.gpu_count, null),
    cost_per_hour: numberOr(pod.cost_per_hour, null),
    interruptible: booleanOrNull(pod.interruptible),
    image: textOrNull(pod.image),
    uptime_seconds: numberOr(pod.uptime_seconds, null),
    url: textOf(pod.url)
  };
}

export function readPodList(data: unknown): IPodList {
  const answer = fieldsOf(data);
  return {
    pods: listOf(answer.pods, readPod),
    balance: numberOr(answer.balance, null),
    this_pod: textOrNull(answer.this_pod)
  };
}

export function readLaunchDefaults(data: unknown): ILaunchDefaults {
  const answer = fieldsOf(data);
  return {
    this_pod: textOrNull(answer.this_pod),
    name: textOf(answer.name),
    image: textOf(answer.image),
    ports: textOf(answer.ports),
    gpu_type_id: textOrNull(answer.gpu_type_id),
    gpu_count: numberOr(answer.gpu_count, 1),
    network_volume_id: textOrNull(answer.network_volume_id),
    data_center: textOrNull(answer.data_center),
    interruptible: booleanOrNull(answer.interruptible),
    start_command: textOf(answer.start_command)
  };
}

function readLaunched(data: unknown): ILaunched {
  const answer = fieldsOf(data);
  return {
    pod: readPod(answer.pod),
    url: textOf(answer.url),
    snapshots: fieldsOf(answer.snapshots) as ILaunched['snapshots']
  };
}

function readSavedTemplate(data: unknown): ISavedTemplateAnswer {
  const answer = fieldsOf(data);
  const template = fieldsOf(answer.template);
  return {
    template: {
      id: textOf(template.id),
      name: textOf(template.name),
      image: textOf(template.image),
      ports: textOf(template.ports),
      volume_mount_path: textOf(template.volume_mount_path),
      start_command: textOf(template.start_command)
    },
    url: textOf(answer.url)
  };
}
