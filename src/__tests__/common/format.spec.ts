import { nullTranslator } from '@jupyterlab/translation';

import {
  basename,
  formatAgo,
  formatBytes,
  formatCost,
  formatCountdown,
  formatDuration,
  formatIn,
  formatInterval,
  formatMoney,
  formatPrice,
  msUntil
} from '../../common/format';

const trans = nullTranslator.load('jupyter_gpuguard');

describe('money', () => {
  it('keeps three digits below ten cents so that a cost visibly moves', () => {
    expect(formatMoney(0.0456)).toBe('$0.046');
    expect(formatMoney(0.23)).toBe('$0.23');
    expect(formatMoney(0)).toBe('$0.00');
  });

  it('drops the cents from large amounts', () => {
    expect(formatMoney(1234.5)).toBe('$1,235');
  });

  it('writes an unknown currency code after the amount', () => {
    expect(formatMoney(1.5, 'NOT-A-CODE')).toBe('1.50 NOT-A-CODE');
  });

  it('writes prices per hour and costs with four digits below ten', () => {
    expect(formatPrice(0.44)).toBe('$0.44/h');
    expect(formatCost(0.12345)).toBe('$0.1235');
    expect(formatCost(12.345)).toBe('$12.35');
  });
});

describe('times', () => {
  it('counts down in mm:ss, with hours beyond an hour', () => {
    expect(formatCountdown(61_000)).toBe('01:01');
    expect(formatCountdown(3_600_000 + 5_000)).toBe('1:00:05');
    expect(formatCountdown(-5)).toBe('00:00');
  });

  it('rounds a countdown up, so that it says 00:00 only at the end', () => {
    expect(formatCountdown(100)).toBe('00:01');
  });

  it('gives the time left until a deadline, never below zero', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(msUntil('2024-01-01T00:00:30Z', now)).toBe(30_000);
    expect(msUntil('2023-12-31T23:59:00Z', now)).toBe(0);
    expect(msUntil(null, now)).toBeNull();
    expect(msUntil('soon', now)).toBeNull();
  });

  it('writes durations and intervals in words', () => {
    expect(formatDuration(7500)).toBe('2 h 05 min');
    expect(formatDuration(125)).toBe('2 min');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatInterval(45)).toBe('45 s');
    expect(formatInterval(150)).toBe('2.5 min');
    expect(formatInterval(660)).toBe('11 min');
    expect(formatInterval(7200)).toBe('2 h');
  });

  it('says how long ago and how long until', () => {
    const now = 10_000_000;
    expect(formatAgo(now - 2_000, now, trans)).toBe('just now');
    expect(formatAgo(now - 40_000, now, trans)).toBe('40 s ago');
    expect(formatAgo(now - 65 * 60_000, now, trans)).toBe('1 h 05 min ago');
    expect(formatIn(now + 40_000, now, trans)).toBe('in 40 s');
    expect(formatIn(now + 61 * 60_000, now, trans)).toBe('in 1 h 01 min');
    expect(formatIn(now - 1, now, trans)).toBe('now');
  });
});

describe('formatBytes', () => {
  it('uses powers of 1000 and one decimal below ten', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1300)).toBe('1.3 kB');
    expect(formatBytes(42_000_000)).toBe('42 MB');
    expect(formatBytes(-1)).toBe('?');
  });
});

describe('basename', () => {
  it('gives the last part of a path', () => {
    expect(basename('work/deep/train.ipynb')).toBe('train.ipynb');
    expect(basename('train.ipynb')).toBe('train.ipynb');
    expect(basename('dir/')).toBe('dir/');
  });
});
