import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { useNow } from '../common/hooks';
import { podStatusText } from './labels';
import { PodsModel } from './model';

/**
 * The pod launched last: progress until it runs, then a link to its JupyterLab.
 */
export function LaunchedPod(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { model, trans } = props;
  const busy = model.busy;
  const launching = busy && (busy.kind === 'launch' || busy.kind === 'move');
  const launched = model.launched;
  const starting = launched?.pod.status === 'starting';
  const now = useNow(Boolean(launching || starting));
  if (launching && busy) {
    return (
      <div
        className="jp-gpuguard-banner jp-gpuguard-launch-progress"
        role="status"
      >
        <span className="jp-gpuguard-spinner" aria-hidden="true" />{' '}
        {trans.__(
          '%1 (%2 s)',
          busy.step,
          Math.round((now - busy.started) / 1000)
        )}
        <div className="jp-gpuguard-progress jp-mod-indeterminate" />
      </div>
    );
  }
  if (!launched) {
    return null;
  }
  const pod = launched.pod;
  return (
    <div className="jp-gpuguard-banner jp-gpuguard-launched" role="status">
      <div>
        {starting
          ? trans.__(
              'Pod %1 is starting: RunPod is pulling the image.',
              pod.name
            )
          : trans.__('Pod %1 is %2.', pod.name, podStatusText(pod, trans))}
      </div>
      {starting ? (
        <div className="jp-gpuguard-progress jp-mod-indeterminate" />
      ) : null}
      {pod.status === 'running' ? (
        <a
          className="jp-gpuguard-pod-link"
          href={launched.url}
          target="_blank"
          rel="noopener noreferrer"
        >
          {trans.__('Open its JupyterLab')}
        </a>
      ) : (
        <span className="jp-gpuguard-small jp-gpuguard-pod-url">
          {launched.url}
        </span>
      )}
    </div>
  );
}
