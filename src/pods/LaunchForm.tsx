import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { CloudType, INetworkVolume } from '../api/pods';
import { Field } from './Field';
import { gpuTypeLabel } from './labels';
import {
  canLaunch,
  changeLaunchForm,
  initialLaunchForm,
  LaunchFormField,
  launchRequest,
  numberInput
} from './launchFormState';
import { PodsModel } from './model';
import { formatDollars, podPrices } from './prices';

/**
 * The "Launch an on-demand pod" form, open unless this is a pod, with what
 * the choice costs.
 */
export function LaunchForm(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const defaults = model.defaults;
  const [form, change] = React.useReducer(changeLaunchForm, null, () =>
    initialLaunchForm(defaults, model.gpuTypes)
  );
  const defaultStart = defaults?.start_command ?? '';
  const type = model.gpuTypes.find(t => t.id === form.gpuTypeId);
  const prices = podPrices(type, form.cloud, form.gpuCount);
  const busy = model.busy?.kind === 'launch';
  const textChange =
    (field: LaunchFormField<string>) =>
    (event: React.ChangeEvent<{ value: string }>) =>
      change({ field, value: event.target.value });
  const numberChange =
    (field: LaunchFormField<number>, min: number) =>
    (event: React.ChangeEvent<{ value: string }>) =>
      change({ field, value: numberInput(event.target.value, min) });

  const submit = async () => {
    const request = launchRequest(form, defaultStart);
    const volume = model.volumes.find(v => v.id === form.volumeId);
    const result = await showDialog({
      title: trans.__('Launch an on-demand pod?'),
      body: (
        <div className="jp-gpuguard-launch-confirm">
          <p>
            {trans.__(
              '%1 × %2 in the %3 cloud, at about %4 per hour (%5 per day) until you stop it.',
              form.gpuCount,
              type?.name ?? form.gpuTypeId,
              form.cloud.toLowerCase(),
              formatDollars(prices.onDemand),
              formatDollars(
                prices.onDemand === null ? null : prices.onDemand * 24
              )
            )}
          </p>
          <p>
            {volume
              ? trans.__('Network volume %1 mounts at /workspace.', volume.name)
              : trans.__(
                  'No network volume: this pod will not see these notebooks or snapshots.'
                )}
          </p>
        </div>
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Launch') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    await model.launch(request).catch(() => undefined);
  };

  return (
    <details className="jp-gpuguard-launch" open={!model.thisPod}>
      <summary>{trans.__('Launch an on-demand pod')}</summary>
      <form
        className="jp-gpuguard-launch-form"
        onSubmit={event => {
          event.preventDefault();
          void submit();
        }}
      >
        <Field label={trans.__('GPU type')}>
          <select
            className="jp-mod-styled jp-gpuguard-gpu-type"
            value={form.gpuTypeId}
            onChange={textChange('gpuTypeId')}
          >
            {model.gpuTypes.map(t => (
              <option key={t.id} value={t.id}>
                {gpuTypeLabel(t, trans)}
              </option>
            ))}
          </select>
        </Field>
        <div className="jp-gpuguard-field-row">
          <Field label={trans.__('GPUs')}>
            <input
              className="jp-mod-styled jp-gpuguard-gpu-count"
              type="number"
              min={1}
              max={type?.max_gpu_count ?? 8}
              value={form.gpuCount}
              onChange={numberChange('gpuCount', 1)}
            />
          </Field>
          <Field label={trans.__('Cloud')}>
            <select
              className="jp-mod-styled jp-gpuguard-cloud"
              value={form.cloud}
              onChange={event =>
                change({
                  field: 'cloud',
                  value: event.target.value as CloudType
                })
              }
            >
              <option value="SECURE">{trans.__('Secure')}</option>
              <option value="COMMUNITY">{trans.__('Community')}</option>
              <option value="ALL">{trans.__('Either')}</option>
            </select>
          </Field>
        </div>
        <Field label={trans.__('Network volume')}>
          <select
            className="jp-mod-styled jp-gpuguard-volume"
            value={form.volumeId}
            onChange={textChange('volumeId')}
          >
            <option value="">{trans.__('none')}</option>
            {model.volumes.map((v: INetworkVolume) => (
              <option key={v.id} value={v.id}>
                {`${v.name} · ${v.size_gb ?? '?'} GB · ${v.data_center ?? '?'}`}
                {v.id === defaults?.network_volume_id
                  ? trans.__(' (this pod’s)')
                  : ''}
              </option>
            ))}
          </select>
        </Field>
        <Field label={trans.__('Image')}>
          <input
            className="jp-mod-styled jp-gpuguard-image"
            value={form.image}
            onChange={textChange('image')}
          />
        </Field>
        <div className="jp-gpuguard-field-row">
          <Field label={trans.__('Container disk (GB)')}>
            <input
              className="jp-mod-styled jp-gpuguard-container-disk"
              type="number"
              min={1}
              value={form.containerDisk}
              onChange={numberChange('containerDisk', 1)}
            />
          </Field>
          <Field label={trans.__('Pod volume (GB)')}>
            <input
              className="jp-mod-styled jp-gpuguard-pod-volume"
              type="number"
              min={0}
              disabled={Boolean(form.volumeId)}
              title={
                form.volumeId
                  ? trans.__('The network volume is the pod’s /workspace.')
                  : trans.__(
                      'Mounted at /workspace; kept while the pod exists.'
                    )
              }
              value={form.volumeId ? 0 : form.podVolume}
              onChange={numberChange('podVolume', 0)}
            />
          </Field>
        </div>
        <Field label={trans.__('JupyterLab password (JUPYTER_PASSWORD)')}>
          <input
            className="jp-mod-styled jp-gpuguard-jupyter-password"
            type="password"
            autoComplete="new-password"
            value={form.password}
            placeholder={trans.__('optional: RunPod’s images read it')}
            onChange={textChange('password')}
          />
        </Field>
        <Field label={trans.__('Pod name')}>
          <input
            className="jp-mod-styled jp-gpuguard-pod-name"
            value={form.name}
            onChange={textChange('name')}
          />
        </Field>
        <details className="jp-gpuguard-advanced">
          <summary>{trans.__('Advanced: start command')}</summary>
          <p className="jp-gpuguard-small">
            {trans.__(
              'The pod first installs this version of jupyter-gpuguard from the wheelhouse on the network volume (else from the package index), then runs the image’s own start (c.GpuGuard.pod_start_command, /start.sh on RunPod’s images). A failed install is logged to pod-start.log beside the wheelhouse, and JupyterLab starts anyway.'
            )}
          </p>
          <Field label={trans.__('Start command (RunPod’s dockerArgs)')}>
            <textarea
              className="jp-mod-styled jp-gpuguard-start-command"
              rows={6}
              spellCheck={false}
              value={form.startCommand}
              onChange={textChange('startCommand')}
            />
          </Field>
          {form.startCommand !== defaultStart ? (
            <button
              type="button"
              className="jp-gpuguard-link-button jp-gpuguard-start-command-reset"
              onClick={() =>
                change({ field: 'startCommand', value: defaultStart })
              }
            >
              {trans.__('Back to the default')}
            </button>
          ) : null}
        </details>
        <CostEstimate
          onDemand={prices.onDemand}
          spot={prices.spot}
          trans={trans}
        />
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept jp-gpuguard-launch-button"
          disabled={busy || !canLaunch(form)}
        >
          {busy ? trans.__('Launching…') : trans.__('Launch…')}
        </button>
      </form>
    </details>
  );
}

/**
 * Per hour and per day, with the spot price drawn beside the on-demand one.
 */
function CostEstimate(props: {
  onDemand: number | null;
  spot: number | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { onDemand, spot, trans } = props;
  if (onDemand === null) {
    return (
      <p className="jp-gpuguard-small jp-gpuguard-cost-estimate">
        {trans.__('RunPod gives no on-demand price for this choice.')}
      </p>
    );
  }
  const widest = Math.max(onDemand, spot ?? 0);
  return (
    <div className="jp-gpuguard-cost-estimate" role="group">
      <CostLine
        label={trans.__('on-demand')}
        kind="on-demand"
        price={onDemand}
        widest={widest}
        trans={trans}
      />
      {spot !== null ? (
        <CostLine
          label={trans.__('spot')}
          kind="spot"
          price={spot}
          widest={widest}
          trans={trans}
        />
      ) : null}
    </div>
  );
}

/**
 * One price as a bar, for comparing spot with on-demand at a glance.
 */
function CostLine(props: {
  label: string;
  kind: 'on-demand' | 'spot';
  price: number;
  widest: number;
  trans: TranslationBundle;
}): JSX.Element {
  const { label, kind, price, widest, trans } = props;
  return (
    <div className="jp-gpuguard-cost-line">
      <span className="jp-gpuguard-cost-label">{label}</span>
      <span className="jp-gpuguard-cost-bar">
        <span
          className={`jp-gpuguard-cost-fill jp-mod-${kind}`}
          style={{ width: `${(100 * price) / widest}%` }}
        />
      </span>
      <span className="jp-gpuguard-cost-value">
        {trans.__(
          '%1/h · %2/day',
          formatDollars(price),
          formatDollars(price * 24)
        )}
      </span>
    </div>
  );
}
