import { TranslationBundle } from '@jupyterlab/translation';

import type { IInstanceInfo, Provider } from './api';

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
 * A money amount, e.g. `$0.23`. Small amounts keep more digits so that a
 * ticking cost visibly moves.
 */
export function formatMoney(
  value: number,
  currency = 'USD',
  fractionDigits?: number
): string {
  const digits =
    fractionDigits ?? (value > 0 && value < 0.1 ? 3 : value >= 1000 ? 0 : 2);
  try {
    return new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency: currency || 'USD',
      minimumFractionDigits: digits,
      maximumFractionDigits: digits
    }).format(value);
  } catch {
    // Unknown currency code.
    return `${value.toFixed(digits)} ${currency}`;
  }
}

/**
 * An hourly price, e.g. `$0.23/h`.
 */
export function formatPrice(value: number, currency = 'USD'): string {
  return `${formatMoney(value, currency)}/h`;
}

/**
 * A session cost: four digits below 10 so that it ticks every few seconds.
 */
export function formatCost(value: number, currency = 'USD'): string {
  return formatMoney(value, currency, value < 10 ? 4 : 2);
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
 * Milliseconds left until an ISO 8601 deadline, or null when there is none.
 */
export function msUntil(deadline: string | null, now: number): number | null {
  if (!deadline) {
    return null;
  }
  const time = Date.parse(deadline);
  if (isNaN(time)) {
    return null;
  }
  return Math.max(0, time - now);
}

/**
 * A countdown, `mm:ss` (or `h:mm:ss` beyond an hour).
 */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return hours > 0
    ? `${hours}:${pad(minutes)}:${pad(seconds)}`
    : `${pad(minutes)}:${pad(seconds)}`;
}

/**
 * A duration in words, e.g. `2 h 05 min` or `42 min`.
 */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  if (hours > 0) {
    return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  }
  if (minutes > 0) {
    return `${minutes} min`;
  }
  return `${total} s`;
}

/**
 * A key that identifies one preemption notice.
 */
export function noticeKey(info: IInstanceInfo): string | null {
  const notice = info.preemption_notice;
  return notice ? `${notice.source}|${notice.deadline ?? ''}` : null;
}
