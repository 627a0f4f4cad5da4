import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';

import { fetchMovedSession } from '../api/pods';
import { PrefixedStorage } from '../common/storage';
import { loadTranslation } from '../common/translation';

/**
 * The pods whose moved session this browser opened, kept across sessions: a
 * browser that refuses storage opens the notebooks on each load, which is
 * harmless.
 */
const openedMoves = new PrefixedStorage(
  'local',
  'jupyter-gpuguard:moved-session-opened:'
);

/**
 * On a pod "Move this session to on-demand" launched, open the moved notebooks
 * once: each starts a fresh kernel, and the restore prompt offers its snapshot.
 */
export const movedSessionPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gpuguard:moved-session',
  description:
    'Opens the notebooks of a session moved to this pod, so that each offers its snapshot.',
  autoStart: true,
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, translator: ITranslator | null): void => {
    const trans = loadTranslation(translator);
    void app.restored.then(async () => {
      let moved;
      try {
        moved = await fetchMovedSession();
      } catch {
        return; // no server extension, or an older one: nothing to open
      }
      if (!moved.from_pod || moved.notebooks.length === 0) {
        return;
      }
      if (openedMoves.get(moved.from_pod) !== null) {
        return; // opened once in this browser: closing them again is the user's choice
      }
      openedMoves.set(moved.from_pod, String(Date.now()));
      const opened: string[] = [];
      for (const path of moved.notebooks) {
        try {
          await app.serviceManager.contents.get(path, { content: false });
          await app.commands.execute('docmanager:open', { path });
          opened.push(path);
        } catch {
          // moved off the volume, or renamed since: nothing to offer for it
        }
      }
      if (opened.length) {
        Notification.info(
          trans.__(
            'This session was moved here from pod %1: its notebooks are open, and each offers to restore its snapshot.',
            moved.from_pod
          ),
          { autoClose: 10000 }
        );
      }
    });
  }
};
