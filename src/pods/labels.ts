import { TranslationBundle } from '@jupyterlab/translation';

import type { IGpuType, IPod } from '../api/pods';
import { formatDollars } from './prices';

/**
 * A GPU type as the launch form offers it: name, memory, prices and stock.
 */
export function gpuTypeLabel(type: IGpuType, trans: TranslationBundle): string {
  const memory = type.memory_gb ? ` · ${type.memory_gb} GB` : '';
  const price = type.secure_price ?? type.community_price;
  const spot = type.secure_spot_price ?? type.community_spot_price;
  const prices = [
    price !== null
      ? trans.__('%1/h', formatDollars(price))
      : trans.__('no price'),
    spot !== null ? trans.__('spot %1', formatDollars(spot)) : ''
  ]
    .filter(Boolean)
    .join(', ');
  const stock = type.stock ? ` · ${type.stock}` : '';
  return `${type.name}${memory} · ${prices}${stock}`;
}

/**
 * A pod's status in the user's language.
 */
export function podStatusText(pod: IPod, trans: TranslationBundle): string {
  switch (pod.status) {
    case 'starting':
      return trans.__('starting');
    case 'running':
      return trans.__('running');
    case 'stopped':
      return trans.__('stopped');
    case 'terminated':
      return trans.__('terminated');
    default:
      return pod.status;
  }
}

/**
 * A template name RunPod accepts by default: image names hold '/' and ':'.
 */
export function templateName(image: string | undefined): string {
  const base = (image ?? '').split('/').pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '');
  return clean ? `gpuguard-${clean}`.slice(0, 100) : 'gpuguard';
}
