import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IInstanceInfo } from '../api/instance';
import {
  formatCost,
  formatCountdown,
  formatDuration,
  formatPrice,
  msUntil
} from '../common/format';
import { useNow } from '../common/hooks';
import { IInstanceModel, IInstanceState } from '../tokens';
import {
  currentCost,
  elapsedSeconds,
  providerName,
  savingPercent
} from './info';

/**
 * Properties of the instance view.
 */
export interface IInstanceViewProps {
  model: IInstanceModel;
  trans: TranslationBundle;
  /**
   * Shown beside the spot badge, e.g. what a preemption would cost now.
   */
  aside?: JSX.Element;
}

/**
 * The state of the model, kept as one object so that React re-renders on change.
 */
function snapshot(model: IInstanceModel): IInstanceState {
  return {
    info: model.info,
    receivedAt: model.receivedAt,
    error: model.error
  };
}

/**
 * The "Instance" section of the GPU Guard panel.
 */
export function InstanceView(props: IInstanceViewProps): JSX.Element {
  const { model, trans } = props;
  const [state, setState] = React.useState<IInstanceState>(() =>
    snapshot(model)
  );

  React.useEffect(() => {
    const onChanged = () => setState(snapshot(model));
    model.changed.connect(onChanged);
    onChanged();
    return () => {
      model.changed.disconnect(onChanged);
    };
  }, [model]);

  const { info, error, receivedAt } = state;
  const ticking = !!info && !info.detecting && !error;
  const now = useNow(ticking);

  if (error) {
    return (
      <div className="jp-gpuguard-view">
        <ErrorState
          error={error}
          lost={info !== null}
          trans={trans}
          model={model}
        />
      </div>
    );
  }

  if (!info || info.detecting) {
    return (
      <div className="jp-gpuguard-view">
        <div className="jp-gpuguard-loading" role="status">
          <span className="jp-gpuguard-spinner" aria-hidden="true" />
          <span>
            {info
              ? trans.__('Detecting the instance…')
              : trans.__('Asking the server about the instance…')}
          </span>
        </div>
        {info?.detail && <p className="jp-gpuguard-small">{info.detail}</p>}
      </div>
    );
  }

  return (
    <div
      className="jp-gpuguard-view"
      data-provider={info.provider}
      data-interruptible={String(info.interruptible)}
    >
      {info.preemption_notice && (
        <NoticeBanner info={info} now={now} trans={trans} />
      )}
      {info.interruptible === true && <SpotBanner trans={trans} />}
      <InstanceDetails
        info={info}
        now={now}
        receivedAt={receivedAt}
        trans={trans}
        aside={props.aside}
      />
    </div>
  );
}

/**
 * The server extension is missing or broken.
 */
function ErrorState(props: {
  error: string;
  /**
   * Whether the server answered before: then it is gone rather than missing.
   */
  lost: boolean;
  trans: TranslationBundle;
  model: IInstanceModel;
}): JSX.Element {
  const { error, lost, trans, model } = props;
  const retry = (
    <button
      className="jp-Button jp-mod-styled jp-mod-reject"
      onClick={() => void model.refresh().catch(() => undefined)}
    >
      {trans.__('Retry')}
    </button>
  );
  if (lost) {
    return (
      <div className="jp-gpuguard-error jp-gpuguard-mod-lost" role="alert">
        <p className="jp-gpuguard-error-title">
          {trans.__(
            'GPU Guard lost contact with the Jupyter server: %1',
            error
          )}
        </p>
        <p>
          {trans.__(
            'On a spot instance this can mean that the provider reclaimed it.'
          )}
        </p>
        {retry}
      </div>
    );
  }
  return (
    <div className="jp-gpuguard-error" role="alert">
      <p className="jp-gpuguard-error-title">
        {trans.__(
          'The jupyter_gpuguard server extension is not running: %1',
          error
        )}
      </p>
      <p>
        {trans.__('Install it from the wheelhouse on the volume with')}{' '}
        <code>
          pip install --no-index --find-links /workspace/.gpuguard/wheels
          jupyter-gpuguard
        </code>{' '}
        {trans.__('(or a wheel made with')} <code>python -m build --wheel</code>
        {')'}
        {', '}
        {trans.__('enable it with')}{' '}
        <code>jupyter server extension enable jupyter_gpuguard</code>
        {', '}
        {trans.__('then restart the Jupyter server.')}
      </p>
      {retry}
    </div>
  );
}

/**
 * The persistent warning shown on spot instances.
 */
function SpotBanner(props: { trans: TranslationBundle }): JSX.Element {
  const { trans } = props;
  return (
    <div className="jp-gpuguard-banner jp-gpuguard-spot-banner" role="note">
      <strong>{trans.__('Spot instance.')}</strong>{' '}
      {trans.__(
        'This kernel can vanish without notice: spot instances are reclaimed by the provider. Snapshots (below) or an on-demand pod keep your work safe.'
      )}
    </div>
  );
}

/**
 * The loud banner shown while a preemption notice is pending.
 */
function NoticeBanner(props: {
  info: IInstanceInfo;
  now: number;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { info, now, trans } = props;
  const notice = info.preemption_notice;
  if (!notice) {
    return null;
  }
  const left = msUntil(notice.deadline, now);
  return (
    <div
      className="jp-gpuguard-banner jp-gpuguard-notice-banner"
      role="alert"
      data-deadline={notice.deadline ?? ''}
    >
      <div className="jp-gpuguard-notice-title">
        {trans.__('Preemption notice: this instance is being reclaimed')}
      </div>
      {left !== null ? (
        <div className="jp-gpuguard-countdown" aria-live="polite">
          {left > 0 ? formatCountdown(left) : trans.__('any moment now')}
        </div>
      ) : (
        <div className="jp-gpuguard-countdown">
          {trans.__('deadline unknown')}
        </div>
      )}
      <div>
        {trans.__(
          'Save your notebooks and copy your results off the machine now.'
        )}
      </div>
      <div className="jp-gpuguard-small">
        {trans.__('Source: %1', notice.source)}
      </div>
    </div>
  );
}

/**
 * The spot / on-demand / local / unknown badge.
 */
export function Badge(props: {
  info: IInstanceInfo;
  trans: TranslationBundle;
}): JSX.Element {
  const { info, trans } = props;
  let state: 'spot' | 'on-demand' | 'local' | 'unknown';
  let label: string;
  let title: string;
  if (info.interruptible === true) {
    state = 'spot';
    label = trans.__('Spot');
    title = trans.__('Interruptible: the provider can reclaim it');
  } else if (info.provider === 'local') {
    state = 'local';
    label = trans.__('Local');
    title = trans.__('Your own machine: nobody can reclaim it');
  } else if (info.interruptible === false) {
    state = 'on-demand';
    label = trans.__('On-demand');
    title = trans.__('Not interruptible');
  } else {
    state = 'unknown';
    label = trans.__('Unknown');
    title = info.detail || trans.__('Spot or on-demand is not known');
  }
  return (
    <span
      className={`jp-gpuguard-badge jp-gpuguard-mod-${state}`}
      data-state={state}
      title={title}
    >
      {label}
    </span>
  );
}

/**
 * A ring that fills over each billed hour.
 */
function HourRing(props: {
  seconds: number;
  spot: boolean;
  trans: TranslationBundle;
}): JSX.Element {
  const { seconds, spot, trans } = props;
  const radius = 14;
  const circumference = 2 * Math.PI * radius;
  const fraction = (seconds % 3600) / 3600;
  const hour = Math.floor(seconds / 3600) + 1;
  const minutes = Math.floor((seconds % 3600) / 60);
  const label = trans.__('Hour %1, %2 min in', hour, minutes);
  return (
    <svg
      className="jp-gpuguard-ring"
      width="36"
      height="36"
      viewBox="0 0 36 36"
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      <circle
        className="jp-gpuguard-ring-track"
        cx="18"
        cy="18"
        r={radius}
        fill="none"
        strokeWidth="4"
      />
      <circle
        className={
          'jp-gpuguard-ring-value' + (spot ? ' jp-gpuguard-mod-spot' : '')
        }
        cx="18"
        cy="18"
        r={radius}
        fill="none"
        strokeWidth="4"
        strokeLinecap="round"
        strokeDasharray={`${circumference * fraction} ${circumference}`}
        transform="rotate(-90 18 18)"
      />
      <text
        className="jp-gpuguard-ring-text"
        x="18"
        y="18"
        textAnchor="middle"
        dominantBaseline="central"
      >
        {hour}h
      </text>
    </svg>
  );
}

/**
 * What the machine is and what it costs.
 */
function InstanceDetails(props: {
  info: IInstanceInfo;
  now: number;
  receivedAt: number;
  trans: TranslationBundle;
  aside?: JSX.Element;
}): JSX.Element {
  const { info, now, receivedAt, trans } = props;
  const currency = info.currency || 'USD';
  const price = info.price_per_hour;
  const saving = savingPercent(info);
  const cost = currentCost(info, receivedAt, now);
  const elapsed = elapsedSeconds(info, receivedAt, now);

  let gpu: string;
  if (info.gpu_count <= 0 && !info.gpu_name) {
    gpu = trans.__('no GPU');
  } else {
    const count = Math.max(info.gpu_count, 1);
    gpu = `${count} × ${info.gpu_name || trans.__('unknown GPU')}`;
    if (info.gpu_memory_gb !== null) {
      gpu += ` (${trans.__('%1 GB', formatNumber(info.gpu_memory_gb))})`;
    }
  }

  return (
    <div className="jp-gpuguard-details">
      <div className="jp-gpuguard-heading">
        <div className="jp-gpuguard-heading-text">
          <div className="jp-gpuguard-provider">
            {providerName(info.provider, trans)}
          </div>
          {info.instance_type && (
            <div className="jp-gpuguard-instance-type">
              {info.instance_type}
            </div>
          )}
        </div>
        <Badge info={info} trans={trans} />
      </div>
      {props.aside}
      {info.interruptible === null && (
        <p className="jp-gpuguard-small jp-gpuguard-unknown-reason">
          {info.detail
            ? trans.__('Spot or on-demand is unknown: %1', info.detail)
            : trans.__('Spot or on-demand is unknown.')}
        </p>
      )}

      <dl className="jp-gpuguard-facts">
        <dt>{trans.__('Region')}</dt>
        <dd className="jp-gpuguard-region">
          {info.region ?? trans.__('unknown')}
        </dd>

        <dt>{trans.__('GPU')}</dt>
        <dd className="jp-gpuguard-gpu">{gpu}</dd>

        {info.uptime_seconds !== null && (
          <>
            <dt>{trans.__('Up for')}</dt>
            <dd className="jp-gpuguard-uptime">
              {formatDuration(elapsed ?? info.uptime_seconds)}
            </dd>
          </>
        )}

        <dt>{trans.__('Price')}</dt>
        <dd>
          {price !== null ? (
            <span className="jp-gpuguard-price jp-gpuguard-big">
              {formatPrice(price, currency)}
            </span>
          ) : info.provider === 'local' ? (
            <span className="jp-gpuguard-price jp-gpuguard-mod-none">
              {trans.__('local machine, no hourly price')}
            </span>
          ) : (
            <span className="jp-gpuguard-price jp-gpuguard-mod-none">
              {trans.__('price unknown')}
            </span>
          )}
          {price !== null &&
            info.interruptible === true &&
            info.on_demand_price_per_hour !== null && (
              <div className="jp-gpuguard-on-demand">
                {saving !== null
                  ? trans.__(
                      'On-demand %1 — you save %2 %',
                      formatPrice(info.on_demand_price_per_hour, currency),
                      saving
                    )
                  : trans.__(
                      'On-demand %1',
                      formatPrice(info.on_demand_price_per_hour, currency)
                    )}
              </div>
            )}
          {price === null && info.provider !== 'local' && info.detail && (
            <div className="jp-gpuguard-small">{info.detail}</div>
          )}
          {info.price_source && (
            <div className="jp-gpuguard-small jp-gpuguard-price-source">
              {trans.__('Source: %1', info.price_source)}
            </div>
          )}
        </dd>

        {price !== null && (
          <>
            <dt>{trans.__('Session cost')}</dt>
            <dd>
              {cost !== null ? (
                <div className="jp-gpuguard-cost-row">
                  {elapsed !== null && (
                    <HourRing
                      seconds={elapsed}
                      spot={info.interruptible === true}
                      trans={trans}
                    />
                  )}
                  <span className="jp-gpuguard-session-cost jp-gpuguard-big">
                    {formatCost(cost, currency)}
                  </span>
                </div>
              ) : (
                <span className="jp-gpuguard-session-cost jp-gpuguard-mod-none">
                  {trans.__('unknown')}
                </span>
              )}
              {info.session_cost_basis && (
                <div className="jp-gpuguard-small jp-gpuguard-cost-basis">
                  {info.session_cost_basis}
                </div>
              )}
            </dd>
          </>
        )}
      </dl>

      {info.detail &&
        info.interruptible !== null &&
        !(price === null && info.provider !== 'local') && (
          <p className="jp-gpuguard-small jp-gpuguard-detail">{info.detail}</p>
        )}

      {info.warnings.length > 0 && (
        <ul className="jp-gpuguard-warnings">
          {info.warnings.map((warning, index) => (
            <li key={index}>{warning}</li>
          ))}
        </ul>
      )}

      {info.detected_at !== null && (
        <p className="jp-gpuguard-small jp-gpuguard-updated">
          {trans.__(
            'Detected at %1',
            new Date(info.detected_at * 1000).toLocaleTimeString()
          )}
        </p>
      )}
    </div>
  );
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
