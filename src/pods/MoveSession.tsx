import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { PodsModel } from './model';
import { formatDollars, podPrices } from './prices';

/**
 * "Move this session to on-demand", shown on a pod: snapshot every kernel,
 * then launch an on-demand pod like this one.
 */
export function MoveSession(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { model, trans } = props;
  const defaults = model.defaults;
  if (!model.thisPod && !defaults?.this_pod) {
    return null;
  }
  const type = model.gpuTypes.find(t => t.id === defaults?.gpu_type_id);
  const prices = podPrices(type, 'SECURE', defaults?.gpu_count ?? 1);
  const volume = model.volumes.find(v => v.id === defaults?.network_volume_id);
  const busy = model.busy?.kind === 'move';
  const move = async () => {
    const result = await showDialog({
      title: trans.__('Move this session to an on-demand pod?'),
      body: (
        <div className="jp-gpuguard-move-confirm">
          <p>
            {trans.__(
              'Every kernel is snapshotted now, then an on-demand %1 × %2 starts with the same image and volume (%3), at about %4 per hour.',
              defaults?.gpu_count ?? 1,
              type?.name ?? trans.__('GPU of this pod'),
              volume?.name ?? trans.__('unknown: choose one in the form below'),
              formatDollars(prices.onDemand)
            )}
          </p>
          <p>
            {trans.__(
              'Open the new pod’s JupyterLab when it runs: the restore prompt offers this session there. This pod keeps running (and billing) until you stop it, for instance from the new pod’s panel.'
            )}
          </p>
        </div>
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Snapshot and launch') })
      ]
    });
    if (result.button.accept) {
      await model.moveSession({}).catch(() => undefined);
    }
  };
  return (
    <div className="jp-gpuguard-move">
      {defaults?.interruptible ? (
        <p className="jp-gpuguard-small">
          {trans.__(
            'This pod is spot: it can vanish without warning. Moving to on-demand keeps the work safe.'
          )}
        </p>
      ) : null}
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-mod-accept jp-gpuguard-move-button"
        disabled={busy}
        onClick={() => void move()}
      >
        {busy
          ? trans.__('Snapshotting and launching…')
          : trans.__('Move this session to on-demand')}
      </button>
    </div>
  );
}
