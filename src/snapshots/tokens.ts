import { Token } from '@lumino/coreutils';

import { ISnapshotsModel } from '../tokens';
import type { SnapshotActions } from './actions';
import type { OpenNotebooks } from './notebooks';

/**
 * What the snapshots plugin makes once and shares with the panel.
 */
export interface ISnapshotsUI {
  readonly model: ISnapshotsModel;
  /**
   * The snapshot actions with their dialogs and progress notifications.
   */
  readonly actions: SnapshotActions;
  /**
   * The open notebooks; null without a notebook tracker.
   */
  readonly notebooks: OpenNotebooks | null;
}

/**
 * The snapshots UI token.
 */
export const ISnapshotsUI = new Token<ISnapshotsUI>(
  'jupyter-gpuguard:ISnapshotsUI',
  'The snapshot actions and the open notebooks, shared by the snapshot commands and the panel.'
);
