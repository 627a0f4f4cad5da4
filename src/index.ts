import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import {
  instanceModelPlugin,
  instanceNotificationsPlugin,
  instanceStatusPlugin
} from './instance/plugins';
import { panelPlugin } from './panel/plugin';
import { movedSessionPlugin } from './pods/moved';
import { snapshotsModelPlugin, snapshotsPlugin } from './snapshots/plugins';

export { CommandIDs } from './commands';
export { IInstanceModel, ISnapshotsModel } from './tokens';
export type { IInstanceInfo, InstanceInfo } from './api/instance';
export type {
  IKernelSnapshotState,
  IRestoreReport,
  ISnapshotInfo,
  ISnapshotStatus
} from './api/snapshots';

const plugins: JupyterFrontEndPlugin<any>[] = [
  instanceModelPlugin,
  snapshotsModelPlugin,
  panelPlugin,
  instanceStatusPlugin,
  instanceNotificationsPlugin,
  snapshotsPlugin,
  movedSessionPlugin
];

export default plugins;
