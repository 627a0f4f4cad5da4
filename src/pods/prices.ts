import type { CloudType, IGpuType } from '../api/pods';

/**
 * The on-demand and spot price per hour of `count` GPUs of `type` in `cloud`.
 */
export function podPrices(
  type: IGpuType | undefined,
  cloud: CloudType,
  count: number
): { onDemand: number | null; spot: number | null } {
  if (!type) {
    return { onDemand: null, spot: null };
  }
  const pick = (secure: number | null, community: number | null) => {
    const options =
      cloud === 'SECURE'
        ? [secure]
        : cloud === 'COMMUNITY'
          ? [community]
          : [secure, community];
    const known = options.filter((p): p is number => typeof p === 'number');
    return known.length ? Math.min(...known) * count : null;
  };
  return {
    onDemand: pick(type.secure_price, type.community_price),
    spot: pick(type.secure_spot_price, type.community_spot_price)
  };
}

/**
 * Dollars as RunPod shows them, e.g. `$0.44`; a dash when unknown.
 */
export function formatDollars(value: number | null, digits = 2): string {
  return value === null ? '–' : `$${value.toFixed(digits)}`;
}
