import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { addPanelCommands } from '../commands';
import { loadTranslation } from '../common/translation';
import { IdleModel } from '../idle/model';
import { IdleNotifier } from '../idle/notifications';
import { PodsModel } from '../pods/model';
import { ISnapshotsUI } from '../snapshots/tokens';
import { IInstanceModel, PANEL_ID } from '../tokens';
import { GpuGuardPanel } from './panel';

/**
 * The GPU Guard side panel and its commands.
 */
export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gpuguard:panel',
  description: 'The GPU Guard side panel.',
  autoStart: true,
  requires: [IInstanceModel],
  optional: [ITranslator, ICommandPalette, ILayoutRestorer, ISnapshotsUI],
  activate: (
    app: JupyterFrontEnd,
    model: IInstanceModel,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    snapshots: ISnapshotsUI | null
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = loadTranslation(translator);
    addPanelCommands(app, { model, trans, palette });

    const idle = new IdleModel();
    new IdleNotifier({ model: idle, trans });
    const panel = new GpuGuardPanel({
      model,
      translator,
      commands: app.commands,
      snapshots,
      pods: new PodsModel(),
      idle
    });
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, PANEL_ID);
  }
};
