import { VDomModel } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { gpuguardIcon } from '../common/icons';
import { ClickableStatusItem } from '../common/statusItem';
import { IInstanceModel } from '../tokens';
import { noticeKey, statusText } from './info';

/**
 * The status bar model: follows the instance model.
 */
export class GpuGuardStatusModel extends VDomModel {
  constructor(model: IInstanceModel) {
    super();
    this._model = model;
    model.changed.connect(this._onChanged, this);
  }

  get model(): IInstanceModel {
    return this._model;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._onChanged, this);
    super.dispose();
  }

  private _onChanged(): void {
    this.stateChanged.emit(void 0);
  }

  private _model: IInstanceModel;
}

/**
 * The GPU Guard status bar item.
 */
export class GpuGuardStatus extends ClickableStatusItem<GpuGuardStatusModel> {
  constructor(options: GpuGuardStatus.IOptions) {
    super(new GpuGuardStatusModel(options.model), options.onClick);
    this._trans = options.trans;
    this.addClass('jp-gpuguard-status-item');
    this.addClass('jp-mod-highlighted');
  }

  protected render(): JSX.Element | null {
    const trans = this._trans;
    const { info, error } = this.model.model;
    let text: string;
    let state: string;
    let title: string;
    if (error && info) {
      text = trans.__('GPU Guard: server unreachable');
      state = 'error';
      title = trans.__(
        'GPU Guard lost contact with the Jupyter server: %1',
        error
      );
    } else if (error) {
      text = trans.__('GPU Guard: server extension missing');
      state = 'error';
      title = trans.__(
        'The jupyter_gpuguard server extension is not running: %1',
        error
      );
    } else if (!info || info.detecting) {
      text = trans.__('GPU Guard: detecting…');
      state = 'loading';
      title = trans.__('Detecting the instance');
    } else {
      text = statusText(info, trans);
      if (noticeKey(info)) {
        state = 'notice';
        title = trans.__(
          'Preemption notice: this instance is being reclaimed. Click for details.'
        );
      } else if (info.interruptible === true) {
        state = 'spot';
        title = trans.__(
          'Spot instance: the kernel can vanish without notice. Click for details.'
        );
      } else {
        state = info.interruptible === false ? 'on-demand' : 'unknown';
        title = trans.__('Show GPU Guard');
      }
    }
    this.node.title = title;
    return (
      <div
        className={`jp-gpuguard-status jp-gpuguard-status-mod-${state}`}
        data-state={state}
      >
        <gpuguardIcon.react
          className="jp-gpuguard-status-icon"
          tag="span"
          stylesheet="statusBar"
        />
        <span className="jp-gpuguard-status-text">{text}</span>
      </div>
    );
  }

  private _trans: TranslationBundle;
}

export namespace GpuGuardStatus {
  export interface IOptions {
    model: IInstanceModel;
    trans: TranslationBundle;
    /**
     * Called when the item is clicked: open the panel.
     */
    onClick: () => void;
  }
}
