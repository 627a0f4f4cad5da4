import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type {
  CloudType,
  IGpuType,
  ILaunchRequest,
  INetworkVolume,
  IPod
} from '../api/pods';
import { GpuGuardRequestError } from '../api/request';
import { useNow, useSignal } from '../common/hooks';
import { PodsModel } from './model';

export const RUNPOD_KEYS_URL = 'https://www.runpod.io/console/user/settings';

/**
 * The on-demand and spot price per hour of `count` GPUs of `type` in `cloud`.
 */
export function podPrices(
  type: IGpuType | undefined,
  cloud: CloudType,
  count: number
): { onDemand: number | null; spot: number | null } {
  if (!type) {
    return { onDemand: null, spot: null };
  }
  const pick = (secure: number | null, community: number | null) => {
    const options =
      cloud === 'SECURE'
        ? [secure]
        : cloud === 'COMMUNITY'
          ? [community]
          : [secure, community];
    const known = options.filter((p): p is number => typeof p === 'number');
    return known.length ? Math.min(...known) * count : null;
  };
  return {
    onDemand: pick(type.secure_price, type.community_price),
    spot: pick(type.secure_spot_price, type.community_spot_price)
  };
}

function money(value: number | null, digits = 2): string {
  return value === null ? '–' : `$${value.toFixed(digits)}`;
}

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

function KeyForm(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const [key, setKey] = React.useState('');
  const busy = model.busy?.kind === 'key';
  return (
    <form
      className="jp-gpuguard-key-form"
      onSubmit={event => {
        event.preventDefault();
        void model
          .saveKey(key.trim())
          .then(() => setKey(''))
          .catch(() => undefined);
      }}
    >
      <p className="jp-gpuguard-small">
        {trans.__(
          'To launch on-demand pods from here, give GPU Guard a RunPod API key. Create one at '
        )}
        <a href={RUNPOD_KEYS_URL} target="_blank" rel="noopener noreferrer">
          {trans.__('RunPod → Settings → API Keys')}
        </a>
        {trans.__(
          ' (read and write). It is kept on the server, readable only by you, and never sent back to the browser. RUNPOD_API_KEY or a file named by c.GpuGuard.runpod_api_key_file work too.'
        )}
      </p>
      <label className="jp-gpuguard-field">
        <span>{trans.__('RunPod API key')}</span>
        <input
          className="jp-mod-styled jp-gpuguard-key-input"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={event => setKey(event.target.value)}
          placeholder="rpa_…"
        />
      </label>
      <button
        type="submit"
        className="jp-Button jp-mod-styled jp-mod-accept jp-gpuguard-save-key"
        disabled={busy || key.trim().length < 8}
      >
        {busy ? trans.__('Checking…') : trans.__('Save key')}
      </button>
    </form>
  );
}

function KeySummary(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const key = model.key!;
  return (
    <p className="jp-gpuguard-small jp-gpuguard-key-summary">
      {trans.__('RunPod key: %1', key.source_text ?? trans.__('set'))}
      {model.balance !== null ? (
        <>
          {' · '}
          <span className="jp-gpuguard-balance">
            {trans.__('balance %1', money(model.balance))}
          </span>
        </>
      ) : null}
      {key.source === 'panel' ? (
        <>
          {' · '}
          <button
            type="button"
            className="jp-gpuguard-link-button"
            onClick={() => void model.forgetKey().catch(() => undefined)}
          >
            {trans.__('forget key')}
          </button>
        </>
      ) : null}
    </p>
  );
}

function gpuLabel(type: IGpuType, trans: TranslationBundle): string {
  const memory = type.memory_gb ? ` · ${type.memory_gb} GB` : '';
  const price = type.secure_price ?? type.community_price;
  const spot = type.secure_spot_price ?? type.community_spot_price;
  const prices = [
    price !== null ? trans.__('%1/h', money(price)) : trans.__('no price'),
    spot !== null ? trans.__('spot %1', money(spot)) : ''
  ]
    .filter(Boolean)
    .join(', ');
  const stock = type.stock ? ` · ${type.stock}` : '';
  return `${type.name}${memory} · ${prices}${stock}`;
}

function LaunchForm(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const defaults = model.defaults;
  const [gpuTypeId, setGpuTypeId] = React.useState<string>(
    defaults?.gpu_type_id ?? model.gpuTypes[0]?.id ?? ''
  );
  const [gpuCount, setGpuCount] = React.useState<number>(
    defaults?.gpu_count ?? 1
  );
  const [cloud, setCloud] = React.useState<CloudType>('SECURE');
  const [volumeId, setVolumeId] = React.useState<string>(
    defaults?.network_volume_id ?? ''
  );
  const [image, setImage] = React.useState<string>(defaults?.image ?? '');
  const [name, setName] = React.useState<string>(defaults?.name ?? 'on-demand');
  const [containerDisk, setContainerDisk] = React.useState<number>(50);
  const [podVolume, setPodVolume] = React.useState<number>(20);
  const [password, setPassword] = React.useState<string>('');
  const defaultStart = defaults?.start_command ?? '';
  const [startCommand, setStartCommand] = React.useState<string>(defaultStart);
  const type = model.gpuTypes.find(t => t.id === gpuTypeId);
  const prices = podPrices(type, cloud, gpuCount);
  const busy = model.busy?.kind === 'launch';

  const submit = async () => {
    const request: ILaunchRequest = {
      name: name.trim(),
      gpu_type_id: gpuTypeId,
      gpu_count: gpuCount,
      cloud_type: cloud,
      image: image.trim(),
      network_volume_id: volumeId || null,
      container_disk_gb: containerDisk,
      // A network volume is the pod's /workspace; without one, a volume of its own.
      volume_gb: volumeId ? 0 : podVolume,
      env: password ? { JUPYTER_PASSWORD: password } : {},
      // Unchanged: the server's own default, built where the settings are.
      ...(startCommand.trim() && startCommand !== defaultStart
        ? { start_command: startCommand }
        : {})
    };
    const volume = model.volumes.find(v => v.id === volumeId);
    const result = await showDialog({
      title: trans.__('Launch an on-demand pod?'),
      body: (
        <div className="jp-gpuguard-launch-confirm">
          <p>
            {trans.__(
              '%1 × %2 in the %3 cloud, at about %4 per hour (%5 per day) until you stop it.',
              gpuCount,
              type?.name ?? gpuTypeId,
              cloud.toLowerCase(),
              money(prices.onDemand),
              money(prices.onDemand === null ? null : prices.onDemand * 24)
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
        <label className="jp-gpuguard-field">
          <span>{trans.__('GPU type')}</span>
          <select
            className="jp-mod-styled jp-gpuguard-gpu-type"
            value={gpuTypeId}
            onChange={event => setGpuTypeId(event.target.value)}
          >
            {model.gpuTypes.map(t => (
              <option key={t.id} value={t.id}>
                {gpuLabel(t, trans)}
              </option>
            ))}
          </select>
        </label>
        <div className="jp-gpuguard-field-row">
          <label className="jp-gpuguard-field">
            <span>{trans.__('GPUs')}</span>
            <input
              className="jp-mod-styled jp-gpuguard-gpu-count"
              type="number"
              min={1}
              max={type?.max_gpu_count ?? 8}
              value={gpuCount}
              onChange={event =>
                setGpuCount(Math.max(1, Number(event.target.value) || 1))
              }
            />
          </label>
          <label className="jp-gpuguard-field">
            <span>{trans.__('Cloud')}</span>
            <select
              className="jp-mod-styled jp-gpuguard-cloud"
              value={cloud}
              onChange={event => setCloud(event.target.value as CloudType)}
            >
              <option value="SECURE">{trans.__('Secure')}</option>
              <option value="COMMUNITY">{trans.__('Community')}</option>
              <option value="ALL">{trans.__('Either')}</option>
            </select>
          </label>
        </div>
        <label className="jp-gpuguard-field">
          <span>{trans.__('Network volume')}</span>
          <select
            className="jp-mod-styled jp-gpuguard-volume"
            value={volumeId}
            onChange={event => setVolumeId(event.target.value)}
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
        </label>
        <label className="jp-gpuguard-field">
          <span>{trans.__('Image')}</span>
          <input
            className="jp-mod-styled jp-gpuguard-image"
            value={image}
            onChange={event => setImage(event.target.value)}
          />
        </label>
        <div className="jp-gpuguard-field-row">
          <label className="jp-gpuguard-field">
            <span>{trans.__('Container disk (GB)')}</span>
            <input
              className="jp-mod-styled jp-gpuguard-container-disk"
              type="number"
              min={1}
              value={containerDisk}
              onChange={event =>
                setContainerDisk(Math.max(1, Number(event.target.value) || 1))
              }
            />
          </label>
          <label className="jp-gpuguard-field">
            <span>{trans.__('Pod volume (GB)')}</span>
            <input
              className="jp-mod-styled jp-gpuguard-pod-volume"
              type="number"
              min={0}
              disabled={Boolean(volumeId)}
              title={
                volumeId
                  ? trans.__('The network volume is the pod’s /workspace.')
                  : trans.__(
                      'Mounted at /workspace; kept while the pod exists.'
                    )
              }
              value={volumeId ? 0 : podVolume}
              onChange={event =>
                setPodVolume(Math.max(0, Number(event.target.value) || 0))
              }
            />
          </label>
        </div>
        <label className="jp-gpuguard-field">
          <span>{trans.__('JupyterLab password (JUPYTER_PASSWORD)')}</span>
          <input
            className="jp-mod-styled jp-gpuguard-jupyter-password"
            type="password"
            autoComplete="new-password"
            value={password}
            placeholder={trans.__('optional: RunPod’s images read it')}
            onChange={event => setPassword(event.target.value)}
          />
        </label>
        <label className="jp-gpuguard-field">
          <span>{trans.__('Pod name')}</span>
          <input
            className="jp-mod-styled jp-gpuguard-pod-name"
            value={name}
            onChange={event => setName(event.target.value)}
          />
        </label>
        <details className="jp-gpuguard-advanced">
          <summary>{trans.__('Advanced: start command')}</summary>
          <p className="jp-gpuguard-small">
            {trans.__(
              'The pod first installs this version of jupyter-gpuguard from the wheelhouse on the network volume (else from the package index), then runs the image’s own start (c.GpuGuard.pod_start_command, /start.sh on RunPod’s images). A failed install is logged to pod-start.log beside the wheelhouse, and JupyterLab starts anyway.'
            )}
          </p>
          <label className="jp-gpuguard-field">
            <span>{trans.__('Start command (RunPod’s dockerArgs)')}</span>
            <textarea
              className="jp-mod-styled jp-gpuguard-start-command"
              rows={6}
              spellCheck={false}
              value={startCommand}
              onChange={event => setStartCommand(event.target.value)}
            />
          </label>
          {startCommand !== defaultStart ? (
            <button
              type="button"
              className="jp-gpuguard-link-button jp-gpuguard-start-command-reset"
              onClick={() => setStartCommand(defaultStart)}
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
          disabled={busy || !gpuTypeId || !name.trim() || !image.trim()}
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
        {trans.__('%1/h · %2/day', money(price), money(price * 24))}
      </span>
    </div>
  );
}

function MoveSession(props: {
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
              money(prices.onDemand)
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

/**
 * A template name RunPod accepts by default: image names hold '/' and ':'.
 */
function templateName(image: string | undefined): string {
  const base = (image ?? '').split('/').pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '');
  return clean ? `gpuguard-${clean}`.slice(0, 100) : 'gpuguard';
}

/**
 * "Save as RunPod template": for pods started from RunPod's console, which
 * then start with the extension like pods launched from here.
 */
function SaveTemplate(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const [saved, setSaved] = React.useState<{
    name: string;
    url: string;
  } | null>(null);
  const busy = model.busy?.kind === 'template';
  const save = async () => {
    const result = await InputDialog.getText({
      title: trans.__('Save as RunPod template'),
      label: trans.__(
        'Template name (one name per RunPod account). The template has this pod’s image and ports, the volume at /workspace, and the start command that installs jupyter-gpuguard.'
      ),
      text: templateName(model.defaults?.image),
      okLabel: trans.__('Save template')
    });
    const name = result.value?.trim();
    if (!result.button.accept || !name) {
      return;
    }
    setSaved(null);
    try {
      const answer = await model.saveTemplate(name);
      setSaved({ name: answer.template.name, url: answer.url });
    } catch {
      // the section shows the server's words
    }
  };
  return (
    <div className="jp-gpuguard-template">
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-gpuguard-template-button"
        disabled={busy}
        title={trans.__(
          'For pods you start from RunPod’s console, after a spot loss for instance: they start with the extension, and the restore prompt.'
        )}
        onClick={() => void save()}
      >
        {busy ? trans.__('Saving…') : trans.__('Save as RunPod template')}
      </button>
      {saved ? (
        <p
          className="jp-gpuguard-small jp-gpuguard-template-saved"
          role="status"
        >
          {trans.__(
            'Saved template %1. Deploy it from RunPod’s console with your network volume: the pod starts with the extension. ',
            saved.name
          )}
          <a href={saved.url} target="_blank" rel="noopener noreferrer">
            {trans.__('Your templates')}
          </a>
        </p>
      ) : null}
    </div>
  );
}

function statusText(pod: IPod, trans: TranslationBundle): string {
  switch (pod.status) {
    case 'starting':
      return trans.__('starting');
    case 'running':
      return trans.__('running');
    case 'stopped':
      return trans.__('stopped');
    case 'terminated':
      return trans.__('terminated');
    default:
      return pod.status;
  }
}

/**
 * The pod launched last: progress until it runs, then a link to its JupyterLab.
 */
function LaunchedPod(props: {
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
          : trans.__('Pod %1 is %2.', pod.name, statusText(pod, trans))}
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

function PodList(props: {
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
                    {statusText(pod, trans)}
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
                      ? trans.__('%1/h', money(pod.cost_per_hour, 3))
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
