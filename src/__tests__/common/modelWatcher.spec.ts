import { Signal } from '@lumino/signaling';

import { ModelWatcher } from '../../common/modelWatcher';

class Counting extends ModelWatcher {
  changes = 0;
  disposals = 0;

  protected onChanged(): void {
    this.changes++;
  }

  protected onDisposed(): void {
    this.disposals++;
  }
}

describe('ModelWatcher', () => {
  it('follows the signal until it is disposed, and lets go once', () => {
    const owner = {};
    const changed = new Signal<object, void>(owner);
    const watcher = new Counting(changed);
    changed.emit();
    changed.emit();
    expect(watcher.changes).toBe(2);
    watcher.dispose();
    watcher.dispose();
    expect(watcher.isDisposed).toBe(true);
    expect(watcher.disposals).toBe(1);
    changed.emit();
    expect(watcher.changes).toBe(2);
  });
});
