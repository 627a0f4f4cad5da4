import { TranslationBundle } from '@jupyterlab/translation';

import type { IInstanceInfo, Provider } from '../api/instance';
import { formatPrice } from '../common/format';

/**
 * The human name of a provider.
 */
export function providerName(
  provider: Provider | string,
  trans: TranslationBundle
): string {
  switch (provider) {
    case 'runpod':
      return 'RunPod';
    case 'aws':
      return 'AWS';
    case 'gcp':
      return 'Google Cloud';
    case 'azure':
      return 'Azure';
    case 'local':
      return trans.__('Local machine');
    case 'manual':
      return trans.__('Manual');
    default:
      return String(provider);
  }
}

/**
 * What was paid so far: the server's session cost plus the price of the
 * time since the answer arrived.
 */
export function currentCost(
  info: IInstanceInfo,
  receivedAt: number,
  now: number
): number | null {
  if (info.session_cost === null) {
    return null;
  }
  if (info.price_per_hour === null) {
    return info.session_cost;
  }
  const hours = Math.max(0, now - receivedAt) / 3_600_000;
  return info.session_cost + info.price_per_hour * hours;
}

/**
 * Seconds the session has been billed, when it can be told.
 */
export function elapsedSeconds(
  info: IInstanceInfo,
  receivedAt: number,
  now: number
): number | null {
  const since = Math.max(0, now - receivedAt) / 1000;
  if (info.uptime_seconds !== null) {
    return info.uptime_seconds + since;
  }
  if (info.session_cost !== null && info.price_per_hour !== null) {
    return (info.session_cost / info.price_per_hour) * 3600 + since;
  }
  return null;
}

/**
 * The saving of spot over on-demand, in whole percent, or null.
 */
export function savingPercent(info: IInstanceInfo): number | null {
  const spot = info.price_per_hour;
  const onDemand = info.on_demand_price_per_hour;
  if (spot === null || onDemand === null || onDemand <= spot) {
    return null;
  }
  return Math.round(((onDemand - spot) / onDemand) * 100);
}

/**
 * The GPU part of a description, e.g. `RTX A6000` or `2× A100`.
 */
export function gpuLabel(info: IInstanceInfo): string | null {
  if (!info.gpu_name && info.gpu_count <= 0) {
    return null;
  }
  const name = info.gpu_name || 'GPU';
  return info.gpu_count > 1 ? `${info.gpu_count}× ${name}` : name;
}

/**
 * A key that identifies one preemption notice.
 */
export function noticeKey(info: IInstanceInfo): string | null {
  const notice = info.preemption_notice;
  return notice ? `${notice.source}|${notice.deadline ?? ''}` : null;
}

/**
 * The one-line summary of the instance, e.g. `RTX A6000 · spot · $0.23/h`.
 */
export function statusText(
  info: IInstanceInfo,
  trans: TranslationBundle
): string {
  const parts: string[] = [];
  parts.push(gpuLabel(info) ?? trans.__('no GPU'));
  if (info.provider === 'local') {
    parts.push(trans.__('local'));
  } else if (info.interruptible === true) {
    parts.push(trans.__('spot'));
  } else if (info.interruptible === false) {
    parts.push(trans.__('on-demand'));
  }
  if (info.price_per_hour !== null) {
    parts.push(formatPrice(info.price_per_hour, info.currency));
  } else if (info.provider !== 'local') {
    parts.push(trans.__('price unknown'));
  }
  return parts.join(' · ');
}
