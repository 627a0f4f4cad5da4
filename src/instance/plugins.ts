import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator } from '@jupyterlab/translation';

import { panelOpener } from '../commands';
import { followSetting, SETTINGS_PLUGIN_ID } from '../common/settings';
import { loadTranslation } from '../common/translation';
import { IInstanceModel } from '../tokens';
import { DEFAULT_REFRESH_INTERVAL, InstanceModel } from './model';
import { PreemptionNotifier } from './preemption';
import { SpotKernelWarner } from './spotWarning';
import { GpuGuardStatus } from './statusbar';

/**
 * The instance model; owns the settings in schema/plugin.json.
 */
export const instanceModelPlugin: JupyterFrontEndPlugin<IInstanceModel> = {
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
    void followSetting(settingRegistry, 'refreshInterval', value => {
      model.refreshInterval = value as number;
    });
    return model;
  }
};

/**
 * The status bar item.
 */
export const instanceStatusPlugin: JupyterFrontEndPlugin<void> = {
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
      trans: loadTranslation(translator),
      onClick: panelOpener(app)
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
export const instanceNotificationsPlugin: JupyterFrontEndPlugin<void> = {
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
    const trans = loadTranslation(translator);
    const showPanel = panelOpener(app);

    new PreemptionNotifier({ model, trans, showPanel });

    if (!tracker) {
      return;
    }
    // The warner starts once the setting is known: a kernel found before
    // would be warned about even with the warning turned off.
    let enabled = true;
    let warner: SpotKernelWarner | null = null;
    const settingKnown = followSetting(
      settingRegistry,
      'spotWarning',
      value => {
        enabled = value !== false;
        if (warner) {
          warner.enabled = enabled;
        }
      }
    );
    void Promise.all([settingKnown, app.restored]).then(() => {
      warner = new SpotKernelWarner({ model, tracker, trans, showPanel });
      warner.enabled = enabled;
    });
  }
};
