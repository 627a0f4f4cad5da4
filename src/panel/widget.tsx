import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  CommandToolbarButton,
  ReactWidget,
  SidePanel
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { gpuguardIcon } from '../common/icons';
import { PodsModel } from '../pods/model';
import { PodsView } from '../pods/PodsView';
import { SnapshotActions } from '../snapshots/actions';
import { OpenNotebooks } from '../snapshots/notebooks';
import { SnapshotsView } from '../snapshots/SnapshotsView';
import {
  CommandIDs,
  IInstanceModel,
  ISnapshotsModel,
  PANEL_ID
} from '../tokens';
import { InstanceView } from '../instance/InstanceView';

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
 * The "Snapshots" section: the snapshots of the open notebooks.
 */
export class SnapshotsWidget extends ReactWidget {
  constructor(options: SnapshotsWidget.IOptions) {
    super();
    this._model = options.model;
    this._notebooks = options.notebooks ?? null;
    this._translator = options.translator ?? nullTranslator;
    const trans = this._translator.load('jupyter_gpuguard');
    this._actions =
      options.actions ?? new SnapshotActions({ model: this._model, trans });
    this.addClass('jp-gpuguard-snapshots');
    this.id = 'gpuguard-snapshots';
    this.title.label = trans.__('Snapshots');
  }

  protected render(): JSX.Element {
    return (
      <SnapshotsView
        model={this._model}
        notebooks={this._notebooks}
        actions={this._actions}
        trans={this._translator.load('jupyter_gpuguard')}
      />
    );
  }

  private _actions: SnapshotActions;
  private _model: ISnapshotsModel;
  private _notebooks: OpenNotebooks | null;
  private _translator: ITranslator;
}

export namespace SnapshotsWidget {
  export interface IOptions {
    model: ISnapshotsModel;
    /**
     * The open notebooks; without them only the store is shown.
     */
    notebooks?: OpenNotebooks | null;
    actions?: SnapshotActions;
    translator?: ITranslator;
  }
}

/**
 * The "On-demand pod" section: RunPod key, launch form, move-session, the user's pods.
 */
export class PodsWidget extends ReactWidget {
  constructor(options: PodsWidget.IOptions) {
    super();
    this._model = options.model;
    this._translator = options.translator ?? nullTranslator;
    const trans = this._translator.load('jupyter_gpuguard');
    this.addClass('jp-gpuguard-pods-section');
    this.id = 'gpuguard-pods';
    this.title.label = trans.__('On-demand pod');
  }

  protected render(): JSX.Element {
    return (
      <PodsView
        model={this._model}
        trans={this._translator.load('jupyter_gpuguard')}
      />
    );
  }

  private _model: PodsModel;
  private _translator: ITranslator;
}

export namespace PodsWidget {
  export interface IOptions {
    model: PodsModel;
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
    if (options.snapshots) {
      this.addWidget(
        new SnapshotsWidget({
          model: options.snapshots,
          notebooks: options.notebooks,
          actions: options.actions,
          translator
        })
      );
    }
    if (options.pods) {
      this.addWidget(new PodsWidget({ model: options.pods, translator }));
    }
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
    /**
     * When given, a "Snapshots" section is added.
     */
    snapshots?: ISnapshotsModel | null;
    notebooks?: OpenNotebooks | null;
    actions?: SnapshotActions;
    /**
     * When given, an "On-demand pod" section is added.
     */
    pods?: PodsModel | null;
  }
}
