import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IPod } from '../api/pods';
import { podStatusText } from './labels';
import { PodsModel } from './model';
import { formatDollars } from './prices';

/**
 * "Your pods", with Stop and Terminate for each but this one.
 */
export function PodList(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const terminate = async (pod: IPod) => {
    const first = await showDialog({
      title: trans.__('Terminate %1?', pod.name),
      body: trans.__(
        'The pod, its container disk and its pod volume are deleted. A network volume is kept.'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Terminate') })
      ]
    });
    if (!first.button.accept) {
      return;
    }
    const second = await showDialog({
      title: trans.__('Really terminate %1?', pod.name),
      body: trans.__(
        'This cannot be undone. Anything not on a network volume is lost.'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Keep it') }),
        Dialog.warnButton({ label: trans.__('Terminate for good') })
      ]
    });
    if (second.button.accept) {
      await model.terminate(pod.id).catch(() => undefined);
    }
  };
  return (
    <div className="jp-gpuguard-pods">
      <h3 className="jp-gpuguard-subheading">{trans.__('Your pods')}</h3>
      {model.pods.length === 0 ? (
        <p className="jp-gpuguard-small">{trans.__('No pods.')}</p>
      ) : (
        <ul className="jp-gpuguard-pod-list">
          {model.pods.map(pod => {
            const self = pod.id === model.thisPod;
            const working = model.busy?.podId === pod.id;
            return (
              <li
                key={pod.id}
                className="jp-gpuguard-pod"
                data-pod-id={pod.id}
                data-status={pod.status}
              >
                <div className="jp-gpuguard-pod-heading">
                  <span className="jp-gpuguard-pod-title" title={pod.id}>
                    {pod.name}
                  </span>
                  <span className={`jp-gpuguard-chip jp-mod-${pod.status}`}>
                    {podStatusText(pod, trans)}
                  </span>
                </div>
                <div className="jp-gpuguard-small">
                  {[
                    pod.gpu
                      ? `${pod.gpu_count ?? 1} × ${pod.gpu}`
                      : trans.__('no GPU'),
                    pod.interruptible === true
                      ? trans.__('spot')
                      : pod.interruptible === false
                        ? trans.__('on-demand')
                        : null,
                    pod.cost_per_hour !== null
                      ? trans.__('%1/h', formatDollars(pod.cost_per_hour, 3))
                      : null,
                    self ? trans.__('this pod') : null
                  ]
                    .filter(Boolean)
                    .join(' · ')}
                </div>
                {self ? null : (
                  <div className="jp-gpuguard-pod-actions">
                    {pod.status === 'running' ? (
                      <a
                        href={pod.url}
                        target="_blank"
                        rel="noopener noreferrer"
                      >
                        {trans.__('JupyterLab')}
                      </a>
                    ) : null}
                    {pod.status === 'running' || pod.status === 'starting' ? (
                      <button
                        type="button"
                        className="jp-Button jp-mod-styled jp-mod-reject jp-gpuguard-stop"
                        disabled={working}
                        onClick={() =>
                          void model.stop(pod.id).catch(() => undefined)
                        }
                      >
                        {trans.__('Stop')}
                      </button>
                    ) : null}
                    <button
                      type="button"
                      className="jp-Button jp-mod-styled jp-mod-warn jp-gpuguard-terminate"
                      disabled={working}
                      onClick={() => void terminate(pod)}
                    >
                      {working ? trans.__('Working…') : trans.__('Terminate')}
                    </button>
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
