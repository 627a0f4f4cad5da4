import { readReplicaStatus } from '../../api/replica';
import { readSnapshotInfo, readSnapshotStatus } from '../../api/snapshots';

describe('readReplicaStatus', () => {
  it('reads a missing replica as off', () => {
    const status = readReplicaStatus(undefined);
    expect(status.configured).toBe(false);
    expect(status.state).toBe('off');
    expect(status.error).toBeNull();
    expect(status.pending).toBe(0);
  });

  it('reads an upload under way and a failure', () => {
    const status = readReplicaStatus({
      configured: true,
      state: 'error',
      url: 's3://bucket/p',
      error: { reason: 'unreachable', message: 'cannot reach', at: 5 },
      pending: 2,
      bytes_left: 4096,
      behind_seconds: 12.5,
      uploading: { id: 'a', bytes_left: 100, started: 1 },
      last_upload: { id: 'b', at: 3, bytes: 10, lag_seconds: 'x' }
    });
    expect(status.error).toEqual({
      reason: 'unreachable',
      message: 'cannot reach',
      at: 5
    });
    expect(status.uploading).toEqual({ id: 'a', bytes_left: 100, started: 1 });
    expect(status.last_upload?.lag_seconds).toBeNull();
    expect(status.behind_seconds).toBe(12.5);
  });
});

describe('where a snapshot lives', () => {
  it('defaults to this disk for servers that do not say', () => {
    expect(readSnapshotInfo({ id: 'x' }).where).toEqual(['disk']);
    expect(readSnapshotInfo({ id: 'x', where: ['replica'] }).where).toEqual([
      'replica'
    ]);
  });

  it('reads the replica in the status and the emergency upload', () => {
    const status = readSnapshotStatus({
      kernels: [],
      store: {},
      replica: { configured: true, state: 'ok', url: 's3://b' },
      emergency: {
        reason: 'SIGTERM',
        started: 1,
        kernels: {},
        replica: { url: 's3://b', bytes_left: 10, deadline: 30, done: false }
      }
    });
    expect(status.replica.url).toBe('s3://b');
    expect(status.emergency?.replica).toEqual({
      url: 's3://b',
      bytes_left: 10,
      deadline: 30,
      error: null,
      done: false
    });
  });
});
