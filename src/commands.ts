import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

import { describeError } from './common/errors';
import { gpuguardIcon, snapshotIcon } from './common/icons';
import type { SnapshotActions } from './snapshots/actions';
import type { OpenNotebooks } from './snapshots/notebooks';
import { IInstanceModel, ISnapshotsModel, PANEL_ID } from './tokens';

/**
 * Command ids of the extension.
 */
export namespace CommandIDs {
  export const openPanel = 'gpuguard:open-panel';
  export const refresh = 'gpuguard:refresh';
  export const snapshotNow = 'gpuguard:snapshot-now';
  export const restoreLatest = 'gpuguard:restore-latest';
}

/**
 * A callback that shows the GPU Guard panel, for notifications and status bar
 * items.
 */
export function panelOpener(app: JupyterFrontEnd): () => void {
  return () => {
    void app.commands.execute(CommandIDs.openPanel);
  };
}

/**
 * Show the panel, and ask the server about the instance again.
 */
export function addPanelCommands(
  app: JupyterFrontEnd,
  options: {
    model: IInstanceModel;
    trans: TranslationBundle;
    palette: ICommandPalette | null;
  }
): void {
  const { model, trans, palette } = options;
  app.commands.addCommand(CommandIDs.openPanel, {
    label: trans.__('Show GPU Guard'),
    caption: trans.__('Show the instance, its price and its spot risk'),
    icon: args => (args['isPalette'] ? undefined : gpuguardIcon),
    execute: () => {
      app.shell.activateById(PANEL_ID);
    }
  });
  app.commands.addCommand(CommandIDs.refresh, {
    label: trans.__('Refresh Instance Information'),
    caption: trans.__('Ask the server about the instance again'),
    icon: args => (args['isPalette'] ? undefined : refreshIcon),
    execute: async () => {
      await model.refresh().catch(() => undefined);
    }
  });
  addToPalette(palette, trans, [CommandIDs.openPanel, CommandIDs.refresh]);
}

/**
 * Snapshot the current notebook's kernel now, and restore its newest
 * snapshot; both follow the current notebook and its kernel's state.
 */
export function addSnapshotCommands(
  app: JupyterFrontEnd,
  options: {
    model: ISnapshotsModel;
    notebooks: OpenNotebooks;
    actions: SnapshotActions;
    trans: TranslationBundle;
    palette: ICommandPalette | null;
  }
): void {
  const { model, notebooks, actions, trans, palette } = options;
  const target = () => {
    const notebook = notebooks.current();
    if (!notebook || !notebook.kernelId) {
      return null;
    }
    const kernel = model.kernel(notebook.kernelId);
    return { notebook, kernelId: notebook.kernelId, kernel };
  };
  const isEnabled = () => {
    const current = target();
    return (
      !!current &&
      current.kernel?.supported !== false &&
      !model.isSnapshotting(current.kernelId) &&
      !model.isRestoring(current.kernelId)
    );
  };

  app.commands.addCommand(CommandIDs.snapshotNow, {
    label: trans.__('Snapshot Now'),
    caption: trans.__(
      'Snapshot the variables of the current notebook kernel now'
    ),
    icon: args => (args['isPalette'] ? undefined : snapshotIcon),
    isEnabled,
    execute: async () => {
      const current = target();
      if (!current) {
        return;
      }
      await actions.snapshotNow(current.kernelId, current.notebook.name);
    }
  });
  app.commands.addCommand(CommandIDs.restoreLatest, {
    label: trans.__('Restore Latest Snapshot'),
    caption: trans.__(
      'Restore the newest snapshot of the current notebook into its kernel'
    ),
    isEnabled,
    execute: async () => {
      const current = target();
      if (!current) {
        return;
      }
      const path = current.kernel?.notebook || current.notebook.path;
      let history;
      try {
        history = await model.loadHistory(path);
      } catch (reason) {
        Notification.error(
          trans.__('Could not list the snapshots: %1', describeError(reason)),
          { autoClose: false }
        );
        return;
      }
      if (history.length === 0) {
        Notification.info(
          trans.__('There is no snapshot of %1 yet.', current.notebook.name),
          { autoClose: 5000 }
        );
        return;
      }
      await actions.confirmAndRestore(
        history[0],
        current.kernelId,
        current.notebook.name
      );
    }
  });
  const notify = () => {
    app.commands.notifyCommandChanged(CommandIDs.snapshotNow);
    app.commands.notifyCommandChanged(CommandIDs.restoreLatest);
  };
  model.changed.connect(notify);
  notebooks.changed.connect(notify);
  addToPalette(palette, trans, [
    CommandIDs.snapshotNow,
    CommandIDs.restoreLatest
  ]);
}

function addToPalette(
  palette: ICommandPalette | null,
  trans: TranslationBundle,
  commands: string[]
): void {
  if (!palette) {
    return;
  }
  const category = trans.__('GPU Guard');
  for (const command of commands) {
    palette.addItem({ command, category, args: { isPalette: true } });
  }
}
