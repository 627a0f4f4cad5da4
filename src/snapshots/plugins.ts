import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { addSnapshotCommands, panelOpener } from '../commands';
import { followSetting } from '../common/settings';
import { loadTranslation } from '../common/translation';
import { ISnapshotsModel } from '../tokens';
import { ISnapshotsUI } from './tokens';
import { SnapshotActions } from './actions';
import { EmergencyNotifier } from './emergency';
import { SnapshotsModel } from './model';
import { OpenNotebooks } from './notebooks';
import { RestorePrompter } from './prompt';
import { SnapshotStatus } from './statusbar';

/**
 * The snapshots model, shared by the panel, the status bar and the prompts.
 */
export const snapshotsModelPlugin: JupyterFrontEndPlugin<ISnapshotsModel> = {
  id: 'jupyter-gpuguard:snapshots-model',
  description: 'Polls the snapshot state of the kernels.',
  autoStart: true,
  provides: ISnapshotsModel,
  activate: (app: JupyterFrontEnd): ISnapshotsModel => new SnapshotsModel()
};

/**
 * Snapshot commands, status bar item, restore prompt and emergency
 * notifications; owns the notebook toolbar button in schema/snapshots.json.
 */
export const snapshotsPlugin: JupyterFrontEndPlugin<ISnapshotsUI> = {
  id: 'jupyter-gpuguard:snapshots',
  description:
    'Snapshot and restore commands, the snapshot status bar item and the restore prompt.',
  autoStart: true,
  requires: [ISnapshotsModel],
  provides: ISnapshotsUI,
  optional: [
    INotebookTracker,
    ICommandPalette,
    IStatusBar,
    ISettingRegistry,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    model: ISnapshotsModel,
    tracker: INotebookTracker | null,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): ISnapshotsUI => {
    const trans = loadTranslation(translator);
    const showPanel = panelOpener(app);
    const actions = new SnapshotActions({ model, trans });

    new EmergencyNotifier({ model, trans, showPanel });

    if (!tracker) {
      return { model, actions, notebooks: null };
    }
    const notebooks = new OpenNotebooks(tracker);
    addSnapshotCommands(app, { model, notebooks, actions, trans, palette });
    if (statusBar) {
      addStatusItem(app, statusBar, { model, notebooks, trans, showPanel });
    }
    const prompter = new RestorePrompter({ model, notebooks, actions });
    void followSetting(settingRegistry, 'restorePrompt', value => {
      prompter.enabled = value !== false;
    });
    return { model, actions, notebooks };
  }
};

/**
 * When the current notebook's variables were saved, shown while a notebook
 * is the current widget.
 */
function addStatusItem(
  app: JupyterFrontEnd,
  statusBar: IStatusBar,
  options: {
    model: ISnapshotsModel;
    notebooks: OpenNotebooks;
    trans: TranslationBundle;
    showPanel: () => void;
  }
): void {
  const { model, notebooks, trans, showPanel } = options;
  const item = new SnapshotStatus({
    model,
    notebooks,
    trans,
    onClick: showPanel
  });
  const activeStateChanged = new Signal<SnapshotStatus, void>(item);
  const emit = () => activeStateChanged.emit();
  item.model.activeChanged.connect(emit);
  notebooks.changed.connect(emit);
  app.shell.currentChanged?.connect(emit);
  statusBar.registerStatusItem('jupyter-gpuguard:snapshot-status', {
    item,
    align: 'left',
    rank: 6,
    isActive: () => {
      const current = app.shell.currentWidget;
      return (
        item.model.active &&
        (!current || current === notebooks.tracker.currentWidget)
      );
    },
    activeStateChanged
  });
}
