import {
  SNAPSHOT_FAST_POLL_INTERVAL,
  SNAPSHOT_POLL_INTERVAL,
  SnapshotsModel
} from '../../snapshots/model';
import {
  fakeClient,
  kernelState,
  snapshotInfo,
  snapshotStatus
} from './fixtures';

describe('SnapshotsModel', () => {
  it('keeps the status and finds kernels in it', async () => {
    const client = fakeClient(snapshotStatus([kernelState({})]));
    const model = new SnapshotsModel({ client, auto: false });
    expect(model.kernel('k1')).toBeNull();
    await model.refresh();
    expect(model.status?.interval_seconds).toBe(600);
    expect(model.kernel('k1')?.notebook).toBe('a.ipynb');
    expect(model.kernel('k2')).toBeNull();
    expect(model.kernel(null)).toBeNull();
    model.dispose();
  });

  it('polls fast while a snapshot is written or a kernel is set up', async () => {
    const client = fakeClient(snapshotStatus([kernelState({})]));
    const model = new SnapshotsModel({ client, auto: false });
    await model.refresh();
    expect(model.pollInterval).toBe(SNAPSHOT_POLL_INTERVAL);

    client.status = snapshotStatus([kernelState({ in_flight: true })]);
    await model.refresh();
    expect(model.pollInterval).toBe(SNAPSHOT_FAST_POLL_INTERVAL);

    // Idle, not attached yet and no reason why: it is being set up.
    client.status = snapshotStatus([kernelState({ attached: false })]);
    await model.refresh();
    expect(model.pollInterval).toBe(SNAPSHOT_FAST_POLL_INTERVAL);

    client.status = snapshotStatus([
      kernelState({ attached: false, reason: 'not a Python kernel' })
    ]);
    await model.refresh();
    expect(model.pollInterval).toBe(SNAPSHOT_POLL_INTERVAL);
    model.dispose();
  });

  it('loads a history once and reloads it when a newer snapshot shows', async () => {
    const first = snapshotInfo({ id: 's1' });
    const histories = { 'a.ipynb': [first] };
    const client = fakeClient(
      snapshotStatus([kernelState({ last_snapshot: first })]),
      histories
    );
    const model = new SnapshotsModel({ client, auto: false });
    await model.refresh();
    await expect(model.loadHistory('a.ipynb')).resolves.toEqual([first]);
    expect(client.list).toHaveBeenCalledTimes(1);

    // The same newest snapshot: nothing to reload.
    await model.refresh();
    expect(client.list).toHaveBeenCalledTimes(1);

    const second = snapshotInfo({ id: 's2' });
    histories['a.ipynb'] = [second, first];
    client.status = snapshotStatus([kernelState({ last_snapshot: second })]);
    await model.refresh();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(client.list).toHaveBeenCalledTimes(2);
    expect(model.history('a.ipynb')?.map(s => s.id)).toEqual(['s2', 's1']);
    model.dispose();
  });

  it('reloads a renamed notebook when its kernel saved under the old name', async () => {
    const histories: Record<string, ReturnType<typeof snapshotInfo>[]> = {
      'renamed.ipynb': []
    };
    const client = fakeClient(snapshotStatus([kernelState({})]), histories);
    const model = new SnapshotsModel({ client, auto: false });
    await model.refresh();
    await model.loadHistory('renamed.ipynb', 'k1');
    expect(client.list).toHaveBeenLastCalledWith('renamed.ipynb', 'k1');

    const old = snapshotInfo({ id: 's1', notebook: 'Untitled.ipynb' });
    histories['renamed.ipynb'] = [old];
    client.status = snapshotStatus([
      kernelState({ notebook: 'renamed.ipynb', last_snapshot: old })
    ]);
    await model.refresh();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(model.history('renamed.ipynb')?.map(s => s.id)).toEqual(['s1']);
    model.dispose();
  });

  it('reloads a history once its snapshot reached the replica', async () => {
    const local = snapshotInfo({ id: 's1', where: ['disk'] });
    const histories = { 'a.ipynb': [local] };
    const client = fakeClient(snapshotStatus([]), histories);
    const model = new SnapshotsModel({ client, auto: false });
    await model.loadHistory('a.ipynb');
    histories['a.ipynb'] = [{ ...local, where: ['disk', 'replica'] }];
    client.status = snapshotStatus([], {
      replica: {
        ...snapshotStatus([]).replica,
        configured: true,
        state: 'ok',
        last_upload: { id: 's1', at: 1, bytes: 5, lag_seconds: 1 }
      }
    });
    await model.refresh();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(model.history('a.ipynb')?.[0].where).toEqual(['disk', 'replica']);
    model.dispose();
  });

  it('keeps the last history when reloading it fails, with the error', async () => {
    const client = fakeClient(snapshotStatus([]), {
      'a.ipynb': [snapshotInfo({ id: 's1' })]
    });
    const model = new SnapshotsModel({ client, auto: false });
    await model.loadHistory('a.ipynb');
    client.list.mockRejectedValueOnce(new Error('store busy'));
    await model.loadHistory('a.ipynb');
    expect(model.history('a.ipynb')?.map(s => s.id)).toEqual(['s1']);
    expect(model.historyError('a.ipynb')).toBe('store busy');
    model.dispose();
  });

  it('fails the first load of a history that cannot be listed', async () => {
    const client = fakeClient(snapshotStatus([]));
    client.list.mockRejectedValueOnce(new Error('store busy'));
    const model = new SnapshotsModel({ client, auto: false });
    await expect(model.loadHistory('a.ipynb')).rejects.toThrow('store busy');
    expect(model.history('a.ipynb')).toBeNull();
    expect(model.historyError('a.ipynb')).toBe('store busy');
    model.dispose();
  });

  it('asks once more for a history asked for while it loads', async () => {
    const client = fakeClient(snapshotStatus([]), { 'a.ipynb': [] });
    const model = new SnapshotsModel({ client, auto: false });
    const first = model.loadHistory('a.ipynb');
    const second = model.loadHistory('a.ipynb');
    await Promise.all([first, second]);
    expect(client.list).toHaveBeenCalledTimes(2);
    model.dispose();
  });

  it('runs one snapshot per kernel at a time, and says so', async () => {
    let finish: () => void = () => undefined;
    const client = fakeClient(snapshotStatus([kernelState({})]));
    client.snapshot.mockImplementation(
      (kernelId: string) =>
        new Promise(resolve => {
          finish = () =>
            resolve(snapshotInfo({ id: 'new', kernel_id: kernelId }));
        })
    );
    const model = new SnapshotsModel({ client, auto: false });
    await model.refresh();
    const first = model.snapshot('k1');
    const second = model.snapshot('k1');
    expect(model.isSnapshotting('k1')).toBe(true);
    expect(model.pollInterval).toBe(SNAPSHOT_FAST_POLL_INTERVAL);
    finish();
    await expect(first).resolves.toMatchObject({ id: 'new' });
    await expect(second).resolves.toMatchObject({ id: 'new' });
    expect(client.snapshot).toHaveBeenCalledTimes(1);
    expect(model.isSnapshotting('k1')).toBe(false);
    model.dispose();
  });

  it('takes a deleted snapshot out of the histories shown', async () => {
    const s1 = snapshotInfo({ id: 's1' });
    const s2 = snapshotInfo({ id: 's2' });
    const client = fakeClient(snapshotStatus([]), { 'a.ipynb': [s2, s1] });
    const model = new SnapshotsModel({ client, auto: false });
    await model.loadHistory('a.ipynb');
    // The reload that follows stays on its way: the history shown changes
    // without waiting for it.
    client.list.mockImplementationOnce(() => new Promise(() => undefined));
    await model.delete(s2);
    expect(client.delete).toHaveBeenCalledWith('s2');
    expect(model.history('a.ipynb')?.map(s => s.id)).toEqual(['s1']);
    model.dispose();
  });

  it('says a kernel is restoring until the restore is over', async () => {
    const client = fakeClient(snapshotStatus([kernelState({})]));
    const model = new SnapshotsModel({ client, auto: false });
    const restoring = model.restore(snapshotInfo({ id: 's1' }), 'k1', true);
    expect(model.isRestoring('k1')).toBe(true);
    await expect(restoring).resolves.toMatchObject({ restored: ['df'] });
    expect(client.restore).toHaveBeenCalledWith('s1', 'k1', true);
    expect(model.isRestoring('k1')).toBe(false);
    model.dispose();
  });
});
