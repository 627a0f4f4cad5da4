import { TranslationBundle } from '@jupyterlab/translation';

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
 * A size in bytes, e.g. `1.3 GB` (powers of 1000).
 */
export function formatBytes(bytes: number): string {
  if (!isFinite(bytes) || bytes < 0) {
    return '?';
  }
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 999.5 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) {
    return `${Math.round(value)} B`;
  }
  return `${value < 9.95 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * How long ago a time was, e.g. `just now`, `40 s ago`, `2 min ago`, `1 h 05 min ago`.
 *
 * @param then Unix time in milliseconds.
 */
export function formatAgo(
  then: number,
  now: number,
  trans: TranslationBundle
): string {
  const seconds = Math.max(0, Math.floor((now - then) / 1000));
  if (seconds < 5) {
    return trans.__('just now');
  }
  if (seconds < 60) {
    return trans.__('%1 s ago', seconds);
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return trans.__('%1 min ago', minutes);
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    return trans.__(
      '%1 h %2 min ago',
      hours,
      String(minutes % 60).padStart(2, '0')
    );
  }
  return trans.__('%1 days ago', Math.floor(hours / 24));
}

/**
 * How long until a time, e.g. `in 40 s`, `in 4 min`, `in 1 h 05 min`.
 *
 * @param then Unix time in milliseconds.
 */
export function formatIn(
  then: number,
  now: number,
  trans: TranslationBundle
): string {
  const seconds = Math.ceil((then - now) / 1000);
  if (seconds <= 0) {
    return trans.__('now');
  }
  if (seconds < 60) {
    return trans.__('in %1 s', seconds);
  }
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) {
    return trans.__('in %1 min', minutes);
  }
  return trans.__(
    'in %1 h %2 min',
    Math.floor(minutes / 60),
    String(minutes % 60).padStart(2, '0')
  );
}

/**
 * A time of day, e.g. `14:02`; with the date when it is not today.
 *
 * @param time Unix time in milliseconds.
 */
export function formatClock(time: number, now = Date.now()): string {
  const date = new Date(time);
  const clock = date.toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit'
  });
  if (date.toDateString() === new Date(now).toDateString()) {
    return clock;
  }
  return `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${clock}`;
}

/**
 * An interval in words, e.g. `11 min` or `45 s`.
 */
export function formatInterval(seconds: number): string {
  if (seconds < 90) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = seconds / 60;
  if (minutes < 90) {
    return `${minutes < 10 ? minutes.toFixed(1).replace(/\.0$/, '') : Math.round(minutes)} min`;
  }
  const hours = minutes / 60;
  return `${hours.toFixed(1).replace(/\.0$/, '')} h`;
}

/**
 * The last part of a path, as a tab shows it.
 */
export function basename(path: string): string {
  const parts = path.split('/');
  return parts[parts.length - 1] || path;
}
