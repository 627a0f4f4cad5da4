import type {
  CloudType,
  IGpuType,
  ILaunchDefaults,
  ILaunchRequest
} from '../api/pods';

/**
 * What the launch form holds.
 */
export interface ILaunchForm {
  gpuTypeId: string;
  gpuCount: number;
  cloud: CloudType;
  /**
   * The network volume's id; '' for none.
   */
  volumeId: string;
  image: string;
  name: string;
  containerDisk: number;
  podVolume: number;
  password: string;
  startCommand: string;
}

/**
 * A change of one field.
 */
export type LaunchFormChange = {
  [Name in keyof ILaunchForm]: { field: Name; value: ILaunchForm[Name] };
}[keyof ILaunchForm];

/**
 * The fields that hold exactly a `Value`: text fields take any string, the
 * cloud field only the cloud types.
 */
export type LaunchFormField<Value> = {
  [Name in keyof ILaunchForm]: Value extends ILaunchForm[Name] ? Name : never;
}[keyof ILaunchForm];

/**
 * Disk sizes a new pod gets unless the user says otherwise, in GB.
 */
const DEFAULT_CONTAINER_DISK_GB = 50;
const DEFAULT_POD_VOLUME_GB = 20;

/**
 * The form as it opens: like this pod where the server could tell.
 */
export function initialLaunchForm(
  defaults: ILaunchDefaults | null,
  gpuTypes: IGpuType[]
): ILaunchForm {
  return {
    gpuTypeId: defaults?.gpu_type_id ?? gpuTypes[0]?.id ?? '',
    gpuCount: defaults?.gpu_count ?? 1,
    cloud: 'SECURE',
    volumeId: defaults?.network_volume_id ?? '',
    image: defaults?.image ?? '',
    name: defaults?.name ?? 'on-demand',
    containerDisk: DEFAULT_CONTAINER_DISK_GB,
    podVolume: DEFAULT_POD_VOLUME_GB,
    password: '',
    startCommand: defaults?.start_command ?? ''
  };
}

export function changeLaunchForm(
  form: ILaunchForm,
  change: LaunchFormChange
): ILaunchForm {
  return { ...form, [change.field]: change.value };
}

/**
 * What a number field holds: a number no smaller than `min`; what is
 * not a number reads as `min`.
 */
export function numberInput(text: string, min: number): number {
  return Math.max(min, Number(text) || min);
}

/**
 * The launch request for the form.
 *
 * @param defaultStart The start command the server proposed.
 */
export function launchRequest(
  form: ILaunchForm,
  defaultStart: string
): ILaunchRequest {
  return {
    name: form.name.trim(),
    gpu_type_id: form.gpuTypeId,
    gpu_count: form.gpuCount,
    cloud_type: form.cloud,
    image: form.image.trim(),
    network_volume_id: form.volumeId || null,
    container_disk_gb: form.containerDisk,
    // A network volume is the pod's /workspace; without one, a volume of its own.
    volume_gb: form.volumeId ? 0 : form.podVolume,
    env: form.password ? { JUPYTER_PASSWORD: form.password } : {},
    // Unchanged: the server's own default, built where the settings are.
    ...(form.startCommand.trim() && form.startCommand !== defaultStart
      ? { start_command: form.startCommand }
      : {})
  };
}

/**
 * Whether the form can be sent: RunPod needs a GPU type, a name and an image.
 */
export function canLaunch(form: ILaunchForm): boolean {
  return Boolean(form.gpuTypeId && form.name.trim() && form.image.trim());
}
