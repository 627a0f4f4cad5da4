import { IInstanceInfo, readInstanceInfo } from '../../api/instance';

/**
 * An instance answer as the server gives it, with `fields` over a spot A6000
 * on RunPod.
 */
export function instanceInfo(
  fields: Partial<IInstanceInfo> = {}
): IInstanceInfo {
  return {
    ...readInstanceInfo({ provider: 'runpod' }),
    gpu_name: 'RTX A6000',
    gpu_count: 1,
    interruptible: true,
    price_per_hour: 0.25,
    on_demand_price_per_hour: 0.5,
    detected_at: 1,
    ...fields
  };
}
