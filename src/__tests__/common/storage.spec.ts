import { PrefixedStorage } from '../../common/storage';

describe('PrefixedStorage', () => {
  afterEach(() => {
    jest.restoreAllMocks();
    window.sessionStorage.clear();
    window.localStorage.clear();
  });

  it('keeps values under its prefix in the area it names', () => {
    const told = new PrefixedStorage('session', 'jupyter-gpuguard:told:');
    told.set('a.ipynb', 'yes');
    expect(window.sessionStorage.getItem('jupyter-gpuguard:told:a.ipynb')).toBe(
      'yes'
    );
    expect(window.localStorage.length).toBe(0);
    expect(told.get('a.ipynb')).toBe('yes');
    expect(told.get('b.ipynb')).toBeNull();
  });

  it('keeps local values apart from session values', () => {
    const opened = new PrefixedStorage('local', 'p:');
    opened.set('pod-1', '1');
    expect(window.localStorage.getItem('p:pod-1')).toBe('1');
    expect(new PrefixedStorage('session', 'p:').get('pod-1')).toBeNull();
  });

  it('forgets a value', () => {
    const offered = new PrefixedStorage('session', 'p:');
    offered.set('kernel', '1');
    offered.remove('kernel');
    expect(offered.get('kernel')).toBeNull();
  });

  it('reads a refused storage as empty and drops writes', () => {
    const refuse = () => {
      throw new DOMException('refused', 'SecurityError');
    };
    jest.spyOn(Storage.prototype, 'getItem').mockImplementation(refuse);
    jest.spyOn(Storage.prototype, 'setItem').mockImplementation(refuse);
    jest.spyOn(Storage.prototype, 'removeItem').mockImplementation(refuse);
    const told = new PrefixedStorage('session', 'p:');
    expect(() => told.set('a', '1')).not.toThrow();
    expect(() => told.remove('a')).not.toThrow();
    expect(told.get('a')).toBeNull();
  });
});
