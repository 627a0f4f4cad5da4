import { formatDollars, podPrices } from '../../pods/prices';
import { gpuType } from './fixtures';

describe('podPrices', () => {
  it('prices the cloud asked for, times the GPUs', () => {
    const type = gpuType();
    expect(podPrices(type, 'SECURE', 2)).toEqual({
      onDemand: 0.98,
      spot: 0.5
    });
    expect(podPrices(type, 'COMMUNITY', 1)).toEqual({
      onDemand: 0.33,
      spot: null
    });
  });

  it('takes the cheaper cloud when either will do', () => {
    expect(podPrices(gpuType(), 'ALL', 1)).toEqual({
      onDemand: 0.33,
      spot: 0.25
    });
  });

  it('knows no price without a GPU type', () => {
    expect(podPrices(undefined, 'SECURE', 1)).toEqual({
      onDemand: null,
      spot: null
    });
  });
});

describe('formatDollars', () => {
  it('writes dollars as RunPod does, a dash when unknown', () => {
    expect(formatDollars(0.4)).toBe('$0.40');
    expect(formatDollars(0.4412, 3)).toBe('$0.441');
    expect(formatDollars(1234.5)).toBe('$1234.50');
    expect(formatDollars(null)).toBe('–');
  });
});
