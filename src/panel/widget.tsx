import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  CommandToolbarButton,
  ReactWidget,
  SidePanel
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { gpuguardIcon } from '../icons';
import { CommandIDs, IInstanceModel, PANEL_ID } from '../tokens';
import { InstanceView } from './InstanceView';

/**
 * The "Instance" section: a React view of the instance model.
 */
export class InstanceWidget extends ReactWidget {
  constructor(options: InstanceWidget.IOptions) {
    super();
    this._model = options.model;
    this._translator = options.translator ?? nullTranslator;
    const trans = this._translator.load('jupyter_gpuguard');
    this.addClass('jp-gpuguard-instance');
    this.id = 'gpuguard-instance';
    this.title.label = trans.__('Instance');
  }

  protected render(): JSX.Element {
    return (
      <InstanceView
        model={this._model}
        trans={this._translator.load('jupyter_gpuguard')}
      />
    );
  }

  private _model: IInstanceModel;
  private _translator: ITranslator;
}

export namespace InstanceWidget {
  export interface IOptions {
    model: IInstanceModel;
    translator?: ITranslator;
  }
}

/**
 * The GPU Guard side panel.
 */
export class GpuGuardPanel extends SidePanel {
  constructor(options: GpuGuardPanel.IOptions) {
    const translator = options.translator ?? nullTranslator;
    super({ translator });
    const trans = translator.load('jupyter_gpuguard');
    this.id = PANEL_ID;
    this.addClass('jp-gpuguard-panel');
    this.title.icon = gpuguardIcon;
    this.title.caption = trans.__('GPU Guard');

    const heading = document.createElement('h2');
    heading.className = 'jp-gpuguard-title jp-text-truncated';
    heading.textContent = trans.__('GPU Guard');
    this.header.addWidget(new Widget({ node: heading }));

    if (options.commands) {
      this.toolbar.addItem(
        'refresh',
        new CommandToolbarButton({
          commands: options.commands,
          id: CommandIDs.refresh,
          label: ''
        })
      );
    }

    this.addWidget(new InstanceWidget({ model: options.model, translator }));
  }
}

export namespace GpuGuardPanel {
  export interface IOptions {
    model: IInstanceModel;
    translator?: ITranslator;
    /**
     * When given, a refresh button is added to the panel toolbar.
     */
    commands?: CommandRegistry;
  }
}
