import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { ModelWatcher } from '../common/modelWatcher';
import type { IEmergency } from '../api/snapshots';
import { formatBytes } from '../common/format';
import { showPanelAction } from '../common/notify';
import { PrefixedStorage } from '../common/storage';
import { ISnapshotsModel } from '../tokens';

/**
 * The emergencies told in this browser session, by start time: `started` or
 * `finished`.
 */
const toldEmergencies = new PrefixedStorage(
  'session',
  'jupyter-gpuguard:emergency:'
);

/**
 * Tells when the server snapshots every kernel at once (a preemption notice,
 * SIGTERM), and how it went: once per emergency and browser session.
 */
export class EmergencyNotifier extends ModelWatcher {
  constructor(options: EmergencyNotifier.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._trans = options.trans;
    this._showPanel = options.showPanel;
    this.onChanged();
  }

  protected onChanged(): void {
    const emergency = this._model.status?.emergency;
    if (!emergency) {
      return;
    }
    const key = String(emergency.started);
    const told = this._current?.key === key ? this._current : null;
    if (told) {
      if (told.finished || emergency.finished === null) {
        return;
      }
      told.finished = true;
      toldEmergencies.set(key, 'finished');
      this._finish(emergency, told.id);
      return;
    }
    const stored = toldEmergencies.get(key);
    if (stored === 'finished' || (stored && emergency.finished === null)) {
      return;
    }
    if (emergency.finished !== null) {
      // Seen only once over: just say how it went.
      toldEmergencies.set(key, 'finished');
      this._current = { key, id: null, finished: true };
      this._finish(emergency, null);
      return;
    }
    toldEmergencies.set(key, 'started');
    const id = Notification.warning(
      this._trans.__('Snapshotting every kernel: %1', emergency.reason),
      { autoClose: false, actions: [this._action()] }
    );
    this._current = { key, id, finished: false };
  }

  private _finish(emergency: IEmergency, id: string | null): void {
    const trans = this._trans;
    const results = Object.values(emergency.kernels ?? {});
    const saved = results.filter(r => r.snapshot).length;
    const errors = results
      .map(r => r.error)
      .filter((error): error is string => !!error);
    const seconds =
      emergency.finished !== null
        ? Math.max(0, emergency.finished - emergency.started)
        : 0;
    let type: Notification.TypeOptions;
    let message: string;
    if (errors.length === 0) {
      type = 'success';
      message =
        results.length === 0
          ? trans.__('%1: no kernel to snapshot.', emergency.reason)
          : trans._n(
              'Saved %1 kernel in %2 s (%3).',
              'Saved all %1 kernels in %2 s (%3).',
              saved,
              seconds.toFixed(1),
              emergency.reason
            );
    } else {
      type = 'error';
      message = trans.__(
        'Saved %1 of %2 kernels (%3). %4',
        saved,
        results.length,
        emergency.reason,
        errors[0]
      );
    }
    const upload = emergency.replica;
    if (upload && upload.done) {
      message += ' ' + trans.__('Replicated to %1.', upload.url ?? '');
    } else if (upload) {
      type = 'error';
      message +=
        ' ' +
        trans.__(
          '%1 not uploaded to %2 in time: %3',
          formatBytes(upload.bytes_left ?? 0),
          upload.url ?? '',
          upload.error ?? trans.__('the deadline passed')
        );
    }
    const options = {
      autoClose: type === 'success' ? 10000 : (false as const),
      actions: [this._action()]
    };
    if (id !== null) {
      Notification.dismiss(id);
    }
    Notification.emit(message, type, options);
  }

  private _action(): Notification.IAction {
    return showPanelAction(this._trans, this._showPanel, true);
  }

  private _current: {
    key: string;
    id: string | null;
    finished: boolean;
  } | null = null;
  private _model: ISnapshotsModel;
  private _showPanel: () => void;
  private _trans: TranslationBundle;
}

export namespace EmergencyNotifier {
  export interface IOptions {
    model: ISnapshotsModel;
    trans: TranslationBundle;
    showPanel: () => void;
  }
}
