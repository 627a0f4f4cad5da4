import {
  IKernelSnapshotState,
  ISnapshotInfo,
  ISnapshotStatus,
  readRebuildPlan,
  readRestoreReport,
  readSnapshotInfo,
  readSnapshotStatus
} from '../../api/snapshots';
import { ISnapshotsClient } from '../../snapshots/model';

export function snapshotInfo(fields: Partial<ISnapshotInfo>): ISnapshotInfo {
  return {
    ...readSnapshotInfo({}),
    created: '2024-01-01T12:00:00Z',
    notebook: 'a.ipynb',
    ...fields
  };
}

export function kernelState(
  fields: Partial<IKernelSnapshotState>
): IKernelSnapshotState {
  return {
    ...readSnapshotStatus({ kernels: [{}] }).kernels[0],
    kernel_id: 'k1',
    notebook: 'a.ipynb',
    state: 'idle',
    supported: true,
    attached: true,
    ...fields
  };
}

export function snapshotStatus(
  kernels: IKernelSnapshotState[],
  fields: Partial<ISnapshotStatus> = {}
): ISnapshotStatus {
  return {
    ...readSnapshotStatus({ kernels: [] }),
    interval_seconds: 600,
    kernels,
    ...fields
  };
}

export interface IFakeSnapshotsClient extends jest.Mocked<ISnapshotsClient> {
  /**
   * What `fetchStatus` answers.
   */
  status: ISnapshotStatus;
}

/**
 * A client whose status and histories the test sets; every call is a mock.
 */
export function fakeClient(
  status: ISnapshotStatus,
  histories: Record<string, ISnapshotInfo[]> = {}
): IFakeSnapshotsClient {
  const client: IFakeSnapshotsClient = {
    status,
    fetchStatus: jest.fn(async () => client.status),
    list: jest.fn(async (notebook: string) => [...(histories[notebook] ?? [])]),
    snapshot: jest.fn(async (kernelId: string) =>
      snapshotInfo({ id: 'new', kernel_id: kernelId })
    ),
    delete: jest.fn(async (snapshotId: string) => undefined),
    restore: jest.fn(
      async (snapshotId: string, kernelId: string, rebuild?: boolean) =>
        readRestoreReport({ restored: ['df'] }, snapshotId)
    ),
    plan: jest.fn(async (snapshotId: string) => readRebuildPlan({}))
  };
  return client;
}
