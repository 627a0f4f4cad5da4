/**
 * Where a value lives: for the browser tab's session, or until cleared.
 */
export type StorageArea = 'session' | 'local';

/**
 * Values kept in the browser's storage under one key prefix.
 *
 * Storage can be full, disabled or refused (private windows, sandboxed
 * frames). Nothing kept here is more than a reminder not to tell the user
 * something twice, so a value that cannot be read reads as missing and a
 * write that fails is dropped: at worst the user is told again.
 */
export class PrefixedStorage {
  constructor(area: StorageArea, prefix: string) {
    this._area = area;
    this._prefix = prefix;
  }

  get(key: string): string | null {
    try {
      return this._storage().getItem(this._prefix + key);
    } catch {
      return null;
    }
  }

  set(key: string, value: string): void {
    try {
      this._storage().setItem(this._prefix + key, value);
    } catch {
      // See the class comment.
    }
  }

  remove(key: string): void {
    try {
      this._storage().removeItem(this._prefix + key);
    } catch {
      // See the class comment.
    }
  }

  /**
   * Looked up on each use: reading `window.sessionStorage` itself throws where
   * storage is refused.
   */
  private _storage(): Storage {
    return this._area === 'session'
      ? window.sessionStorage
      : window.localStorage;
  }

  private _area: StorageArea;
  private _prefix: string;
}
