import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  CommandToolbarButton,
  ReactWidget,
  SidePanel
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { CommandIDs } from '../commands';
import { gpuguardIcon } from '../common/icons';
import { loadTranslation } from '../common/translation';
import { IdleView, RiskLine } from '../idle/IdleView';
import { IdleModel } from '../idle/model';
import { InstanceView } from '../instance/InstanceView';
import { PodsModel } from '../pods/model';
import { PodsView } from '../pods/PodsView';
import { SnapshotsView } from '../snapshots/SnapshotsView';
import { ISnapshotsUI } from '../snapshots/tokens';
import { IInstanceModel, PANEL_ID } from '../tokens';

/**
 * The GPU Guard side panel: the "Instance", "Idle stop", "Snapshots" and
 * "On-demand pod" sections.
 */
export class GpuGuardPanel extends SidePanel {
  constructor(options: GpuGuardPanel.IOptions) {
    const translator = options.translator ?? nullTranslator;
    super({ translator });
    const trans = loadTranslation(translator);
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

    const idle = options.idle;
    this.addWidget(
      section(
        <InstanceView
          model={options.model}
          trans={trans}
          aside={idle ? <RiskLine model={idle} trans={trans} /> : undefined}
        />,
        {
          id: 'gpuguard-instance',
          className: 'jp-gpuguard-instance',
          label: trans.__('Instance')
        }
      )
    );
    if (idle) {
      this.addWidget(
        section(<IdleView model={idle} trans={trans} />, {
          id: 'gpuguard-idle',
          className: 'jp-gpuguard-idle-section',
          label: trans.__('Idle stop')
        })
      );
    }
    const snapshots = options.snapshots;
    if (snapshots) {
      this.addWidget(
        section(
          <SnapshotsView
            model={snapshots.model}
            notebooks={snapshots.notebooks}
            actions={snapshots.actions}
            trans={trans}
          />,
          {
            id: 'gpuguard-snapshots',
            className: 'jp-gpuguard-snapshots',
            label: trans.__('Snapshots')
          }
        )
      );
    }
    if (options.pods) {
      this.addWidget(
        section(<PodsView model={options.pods} trans={trans} />, {
          id: 'gpuguard-pods',
          className: 'jp-gpuguard-pods-section',
          label: trans.__('On-demand pod')
        })
      );
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
    snapshots?: ISnapshotsUI | null;
    /**
     * When given, an "On-demand pod" section is added.
     */
    pods?: PodsModel | null;
    /**
     * When given, an "Idle stop" section is added, and the risk line beside
     * the spot badge.
     */
    idle?: IdleModel | null;
  }
}

/**
 * One section of the panel: a view, with the title its header shows.
 */
function section(
  view: JSX.Element,
  options: { id: string; className: string; label: string }
): Widget {
  const widget = ReactWidget.create(view);
  widget.addClass(options.className);
  widget.id = options.id;
  widget.title.label = options.label;
  return widget;
}
