import {
  IGpuType,
  ILaunchDefaults,
  ILaunchRequest,
  IPod,
  MoveRequest,
  readLaunchDefaults,
  readPod
} from '../../api/pods';
import { IPodsClient } from '../../pods/model';

export function gpuType(fields: Partial<IGpuType> = {}): IGpuType {
  return {
    id: 'NVIDIA RTX A6000',
    name: 'RTX A6000',
    memory_gb: 48,
    max_gpu_count: 8,
    secure_cloud: true,
    community_cloud: true,
    secure_price: 0.49,
    community_price: 0.33,
    secure_spot_price: 0.25,
    community_spot_price: null,
    stock: 'high',
    ...fields
  };
}

export function pod(fields: Partial<IPod> = {}): IPod {
  return {
    ...readPod({}),
    id: 'pod-1',
    name: 'on-demand',
    status: 'running',
    url: 'https://pod-1-8888.proxy.runpod.net',
    ...fields
  };
}

export function launchDefaults(
  fields: Partial<ILaunchDefaults> = {}
): ILaunchDefaults {
  return {
    ...readLaunchDefaults({}),
    name: 'on-demand',
    image: 'runpod/pytorch:2.4',
    gpu_type_id: 'NVIDIA RTX A6000',
    network_volume_id: 'vol-1',
    start_command: 'bash /workspace/.gpuguard/start.sh',
    ...fields
  };
}

/**
 * A RunPod client with a key set and one running pod; every call is a mock.
 */
export function fakePodsClient(): jest.Mocked<IPodsClient> {
  const configured = {
    configured: true,
    source: 'panel' as const,
    source_text: 'saved in the panel'
  };
  return {
    fetchKey: jest.fn(async () => configured),
    saveKey: jest.fn(async (key: string) => configured),
    forgetKey: jest.fn(async () => ({
      configured: false,
      source: null,
      source_text: null
    })),
    fetchGpuTypes: jest.fn(async () => [gpuType()]),
    fetchVolumes: jest.fn(async () => []),
    fetchLaunchDefaults: jest.fn(async () => launchDefaults()),
    fetchPods: jest.fn(async () => ({
      pods: [pod()],
      balance: 10,
      this_pod: null
    })),
    launch: jest.fn(async (request: ILaunchRequest) => ({
      pod: pod({ id: 'pod-2', status: 'starting' }),
      url: 'https://pod-2-8888.proxy.runpod.net'
    })),
    moveSession: jest.fn(async (request: MoveRequest) => ({
      pod: pod({ id: 'pod-3', status: 'starting' }),
      url: 'https://pod-3-8888.proxy.runpod.net'
    })),
    saveTemplate: jest.fn(async (name: string) => ({
      template: {
        id: 't1',
        name,
        image: '',
        ports: '',
        volume_mount_path: '/workspace',
        start_command: ''
      },
      url: 'https://www.runpod.io/console/user/templates'
    })),
    stop: jest.fn(async (podId: string) => undefined),
    terminate: jest.fn(async (podId: string) => undefined)
  };
}
