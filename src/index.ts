import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';

import { gpuguardIcon, snapshotIcon } from './common/icons';
import { describeError } from './common/errors';
import { DEFAULT_REFRESH_INTERVAL, InstanceModel } from './instance/model';
import { PreemptionNotifier, SpotKernelWarner } from './instance/notifications';
import { GpuGuardPanel } from './panel';
import { movedSessionPlugin } from './pods/moved';
import { PodsModel } from './pods/model';
import { SnapshotActions } from './snapshots/actions';
import { EmergencyNotifier } from './snapshots/emergency';
import { SnapshotsModel } from './snapshots/model';
import { OpenNotebooks } from './snapshots/notebooks';
import { RestorePrompter } from './snapshots/prompt';
import { SnapshotStatus } from './snapshots/statusbar';
import { GpuGuardStatus } from './instance/statusbar';
import {
  CommandIDs,
  IInstanceModel,
  ISnapshotsModel,
  PANEL_ID,
  SETTINGS_PLUGIN_ID
} from './tokens';

export { IInstanceModel, ISnapshotsModel, CommandIDs } from './tokens';
export type { IInstanceInfo, InstanceInfo } from './api/instance';
export type {
  IKernelSnapshotState,
  IRestoreReport,
  ISnapshotInfo,
  ISnapshotStatus
} from './api/snapshots';

const DOMAIN = 'jupyter_gpuguard';

/**
 * The instance model; owns the settings in schema/plugin.json.
 */
const modelPlugin: JupyterFrontEndPlugin<IInstanceModel> = {
  id: SETTINGS_PLUGIN_ID,
  description: 'Polls what the server knows about the machine it runs on.',
  autoStart: true,
  provides: IInstanceModel,
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null
  ): IInstanceModel => {
    const model = new InstanceModel({
      refreshInterval: DEFAULT_REFRESH_INTERVAL
    });
    if (settingRegistry) {
      void settingRegistry
        .load(SETTINGS_PLUGIN_ID)
        .then(settings => {
          const update = () => {
            model.refreshInterval = settings.get('refreshInterval')
              .composite as number;
          };
          settings.changed.connect(update);
          update();
        })
        .catch(reason => {
          console.error('jupyter-gpuguard: failed to load settings', reason);
        });
    }
    return model;
  }
};

/**
 * The snapshots model, shared by the panel, the status bar and the prompts.
 */
const snapshotsModelPlugin: JupyterFrontEndPlugin<ISnapshotsModel> = {
  id: 'jupyter-gpuguard:snapshots-model',
  description: 'Polls the snapshot state of the kernels.',
  autoStart: true,
  provides: ISnapshotsModel,
  activate: (app: JupyterFrontEnd): ISnapshotsModel => new SnapshotsModel()
};

/**
 * The GPU Guard side panel and its commands.
 */
const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gpuguard:panel',
  description: 'The GPU Guard side panel.',
  autoStart: true,
  requires: [IInstanceModel],
  optional: [
    ITranslator,
    ICommandPalette,
    ILayoutRestorer,
    ISnapshotsModel,
    INotebookTracker
  ],
  activate: (
    app: JupyterFrontEnd,
    model: IInstanceModel,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    snapshots: ISnapshotsModel | null,
    tracker: INotebookTracker | null
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = translator.load(DOMAIN);
    const category = trans.__('GPU Guard');

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

    const panel = new GpuGuardPanel({
      model,
      translator,
      commands: app.commands,
      snapshots,
      notebooks: tracker ? new OpenNotebooks(tracker) : null,
      actions: snapshots
        ? new SnapshotActions({ model: snapshots, trans })
        : undefined,
      pods: new PodsModel()
    });
    app.shell.add(panel, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(panel, PANEL_ID);
    }

    if (palette) {
      palette.addItem({
        command: CommandIDs.openPanel,
        category,
        args: { isPalette: true }
      });
      palette.addItem({
        command: CommandIDs.refresh,
        category,
        args: { isPalette: true }
      });
    }
  }
};

/**
 * The status bar item.
 */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gpuguard:status',
  description:
    'Shows the GPU, spot or on-demand and the price in the status bar.',
  autoStart: true,
  requires: [IInstanceModel],
  optional: [IStatusBar, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IInstanceModel,
    statusBar: IStatusBar | null,
    translator: ITranslator | null
  ): void => {
    if (!statusBar) {
      return;
    }
    const item = new GpuGuardStatus({
      model,
      translator: translator ?? nullTranslator,
      onClick: () => {
        void app.commands.execute(CommandIDs.openPanel);
      }
    });
    statusBar.registerStatusItem('jupyter-gpuguard:status', {
      item,
      align: 'left',
      rank: 5
    });
  }
};

/**
 * Spot and preemption notifications.
 */
const notificationsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gpuguard:notifications',
  description:
    'Warns when a notebook kernel runs on a spot instance and when a preemption notice arrives.',
  autoStart: true,
  requires: [IInstanceModel],
  optional: [INotebookTracker, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IInstanceModel,
    tracker: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const showPanel = () => {
      void app.commands.execute(CommandIDs.openPanel);
    };

    new PreemptionNotifier({ model, trans, showPanel });

    if (!tracker) {
      return;
    }
    const start = (enabled: boolean) => {
      const warner = new SpotKernelWarner({ model, tracker, trans, showPanel });
      warner.enabled = enabled;
      return warner;
    };
    if (!settingRegistry) {
      void app.restored.then(() => start(true));
      return;
    }
    void Promise.all([settingRegistry.load(SETTINGS_PLUGIN_ID), app.restored])
      .then(([settings]) => {
        const warner = start(settings.get('spotWarning').composite !== false);
        settings.changed.connect(() => {
          warner.enabled = settings.get('spotWarning').composite !== false;
        });
      })
      .catch(reason => {
        console.error('jupyter-gpuguard: failed to load settings', reason);
        start(true);
      });
  }
};

/**
 * Snapshot commands, status bar item, restore prompt and emergency
 * notifications; owns the notebook toolbar button in schema/snapshots.json.
 */
const snapshotsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gpuguard:snapshots',
  description:
    'Snapshot and restore commands, the snapshot status bar item and the restore prompt.',
  autoStart: true,
  requires: [ISnapshotsModel],
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
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = translator.load(DOMAIN);
    const category = trans.__('GPU Guard');
    const showPanel = () => {
      void app.commands.execute(CommandIDs.openPanel);
    };
    const actions = new SnapshotActions({ model, trans });

    new EmergencyNotifier({ model, trans, showPanel });

    if (!tracker) {
      return;
    }
    const notebooks = new OpenNotebooks(tracker);

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

    if (palette) {
      for (const command of [
        CommandIDs.snapshotNow,
        CommandIDs.restoreLatest
      ]) {
        palette.addItem({ command, category, args: { isPalette: true } });
      }
    }

    if (statusBar) {
      const item = new SnapshotStatus({
        model,
        notebooks,
        translator,
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
            item.model.active && (!current || current === tracker.currentWidget)
          );
        },
        activeStateChanged
      });
    }

    const prompter = new RestorePrompter({ model, notebooks, actions });
    if (settingRegistry) {
      void settingRegistry
        .load(SETTINGS_PLUGIN_ID)
        .then(settings => {
          const update = () => {
            prompter.enabled =
              settings.get('restorePrompt').composite !== false;
          };
          settings.changed.connect(update);
          update();
        })
        .catch(reason => {
          console.error('jupyter-gpuguard: failed to load settings', reason);
        });
    }
  }
};

const plugins: JupyterFrontEndPlugin<any>[] = [
  modelPlugin,
  snapshotsModelPlugin,
  panelPlugin,
  statusPlugin,
  notificationsPlugin,
  snapshotsPlugin,
  movedSessionPlugin
];

export default plugins;
