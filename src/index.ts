import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

import { gpuguardIcon } from './icons';
import { DEFAULT_REFRESH_INTERVAL, InstanceModel } from './model';
import { PreemptionNotifier, SpotKernelWarner } from './notifications';
import { GpuGuardPanel } from './panel';
import { GpuGuardStatus } from './statusbar';
import {
  CommandIDs,
  IInstanceModel,
  PANEL_ID,
  SETTINGS_PLUGIN_ID
} from './tokens';

export { IInstanceModel, CommandIDs } from './tokens';
export type { IInstanceInfo, InstanceInfo } from './api';

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
 * The GPU Guard side panel and its commands.
 */
const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gpuguard:panel',
  description: 'The GPU Guard side panel.',
  autoStart: true,
  requires: [IInstanceModel],
  optional: [ITranslator, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    model: IInstanceModel,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
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
      commands: app.commands
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

const plugins: JupyterFrontEndPlugin<any>[] = [
  modelPlugin,
  panelPlugin,
  statusPlugin,
  notificationsPlugin
];

export default plugins;
