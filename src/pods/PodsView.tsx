import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { GpuGuardRequestError } from '../api/request';
import { useSignal } from '../common/hooks';
import { KeyForm, KeySummary } from './KeyForm';
import { LaunchedPod } from './LaunchedPod';
import { LaunchForm } from './LaunchForm';
import { PodsModel } from './model';
import { MoveSession } from './MoveSession';
import { PodList } from './PodList';
import { SaveTemplate } from './SaveTemplate';

/**
 * The "On-demand pod" section.
 */
export function PodsView(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  useSignal(model.changed);
  React.useEffect(() => {
    if (model.key === null && !model.loading) {
      void model.load();
    }
  }, [model]);

  const error = model.error;
  const missingServer =
    error instanceof GpuGuardRequestError &&
    error.status === 404 &&
    !error.reason;
  const errorLine = error ? (
    <p className="jp-gpuguard-pod-error" role="alert">
      {missingServer
        ? trans.__(
            'The jupyter_gpuguard server extension is not running, so pods cannot be launched from here.'
          )
        : error.message}
    </p>
  ) : null;

  if (model.key === null) {
    return (
      <div className="jp-gpuguard-view jp-gpuguard-pods-view">
        {errorLine ?? (
          <p className="jp-gpuguard-small" role="status">
            <span className="jp-gpuguard-spinner" aria-hidden="true" />{' '}
            {trans.__('Asking the server about RunPod…')}
          </p>
        )}
      </div>
    );
  }
  if (!model.key.configured) {
    return (
      <div className="jp-gpuguard-view jp-gpuguard-pods-view">
        <KeyForm model={model} trans={trans} />
        {errorLine}
      </div>
    );
  }
  return (
    <div className="jp-gpuguard-view jp-gpuguard-pods-view">
      <KeySummary model={model} trans={trans} />
      {errorLine}
      {model.loading && !model.gpuTypes.length ? (
        <p className="jp-gpuguard-small" role="status">
          <span className="jp-gpuguard-spinner" aria-hidden="true" />{' '}
          {trans.__('Loading GPU types and network volumes…')}
        </p>
      ) : (
        <>
          <LaunchedPod model={model} trans={trans} />
          <MoveSession model={model} trans={trans} />
          <SaveTemplate model={model} trans={trans} />
          <LaunchForm model={model} trans={trans} />
          <PodList model={model} trans={trans} />
        </>
      )}
    </div>
  );
}
