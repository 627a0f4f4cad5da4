import { TranslationBundle } from '@jupyterlab/translation';
import { deleteIcon, notebookIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { ISnapshotInfo, ISnapshotStatus } from '../api/snapshots';
import {
  formatAgo,
  formatBytes,
  formatClock,
  formatInterval
} from '../common/format';
import { NO_SIGNAL, useNow, useSignal } from '../common/hooks';
import { snapshotIcon } from '../common/icons';
import { ISnapshotsModel } from '../tokens';
import { SnapshotActions } from './actions';
import { SNAPSHOT_POLL_INTERVAL } from './model';
import { IOpenNotebook, OpenNotebooks } from './notebooks';
import {
  isOverdue,
  lastSnapshotTime,
  nextSnapshotText,
  snapshotClock,
  snapshotTime,
  whereText
} from './state';
import { ReplicaSection } from './Replica';
import { Timeline } from './Timeline';

/**
 * Properties of the snapshots view.
 */
export interface ISnapshotsViewProps {
  model: ISnapshotsModel;
  notebooks: OpenNotebooks | null;
  actions: SnapshotActions;
  trans: TranslationBundle;
}

/**
 * The "Snapshots" section of the GPU Guard panel.
 */
export function SnapshotsView(props: ISnapshotsViewProps): JSX.Element {
  const { model, notebooks, actions, trans } = props;
  useSignal(model.changed);
  useSignal(notebooks?.changed ?? NO_SIGNAL);
  const status = model.status;
  const now = useNow(status !== null);
  const open = notebooks?.all() ?? [];

  // Load the history of every open notebook once; the model keeps it fresh.
  React.useEffect(() => {
    for (const notebook of open) {
      const path = historyPath(model, notebook);
      if (model.history(path) === null && model.historyError(path) === null) {
        void model.loadHistory(path, notebook.kernelId).catch(() => undefined);
      }
    }
  });

  if (!status) {
    return (
      <div className="jp-gpuguard-view jp-gpuguard-snapshots-view">
        {model.error ? (
          <p className="jp-gpuguard-snapshots-unavailable" role="alert">
            {trans.__('Snapshots are not available: %1', model.error)}
          </p>
        ) : (
          <div className="jp-gpuguard-snapshots-loading" role="status">
            <span className="jp-gpuguard-spinner" aria-hidden="true" />
            <span>{trans.__('Asking the server about snapshots…')}</span>
          </div>
        )}
      </div>
    );
  }

  const emergency = status.emergency;
  return (
    <div className="jp-gpuguard-view jp-gpuguard-snapshots-view">
      {model.error && (
        <p className="jp-gpuguard-snapshots-unavailable" role="alert">
          {trans.__('Lost contact with the server: %1', model.error)}
        </p>
      )}
      {status.store.persistent === false && (
        <div
          className="jp-gpuguard-banner jp-gpuguard-store-banner"
          role="alert"
        >
          <strong>
            {trans.__('Snapshots will not survive this machine.')}
          </strong>{' '}
          {trans.__('The store is %1.', status.store.persistent_reason)}{' '}
          {status.replica.configured
            ? trans.__('They are replicated to %1.', status.replica.url ?? '')
            : trans.__(
                'Set c.GpuGuard.snapshot_dir to a persistent volume, or add a replica below.'
              )}
        </div>
      )}
      {emergency && emergency.finished === null && (
        <div
          className="jp-gpuguard-banner jp-gpuguard-emergency-banner"
          role="status"
        >
          <span className="jp-gpuguard-spinner" aria-hidden="true" />{' '}
          {emergency.replica
            ? trans.__(
                'Uploading the snapshots to %1: %2 left, %3 before the deadline (%4)',
                emergency.replica.url ?? '',
                formatBytes(emergency.replica.bytes_left ?? 0),
                formatInterval(
                  Math.max(
                    0,
                    Math.round((emergency.replica.deadline ?? 0) - now / 1000)
                  )
                ),
                emergency.reason
              )
            : trans.__('Snapshotting every kernel: %1', emergency.reason)}
        </div>
      )}
      <p className="jp-gpuguard-small jp-gpuguard-interval">
        {status.interval_seconds > 0
          ? trans.__(
              'Automatic snapshots every %1 once a cell has run.',
              formatInterval(status.interval_seconds)
            )
          : trans.__('Automatic snapshots are off.')}
        {status.interval_reason && (
          <span className="jp-gpuguard-interval-reason">
            {' '}
            ({status.interval_reason})
          </span>
        )}
      </p>

      {!notebooks ? null : open.length === 0 ? (
        <p className="jp-gpuguard-small jp-gpuguard-no-notebook">
          {trans.__('Open a notebook to see and take its snapshots.')}
        </p>
      ) : (
        open.map(notebook => (
          <NotebookSnapshots
            key={notebook.panel.id}
            notebook={notebook}
            model={model}
            status={status}
            actions={actions}
            now={now}
            trans={trans}
          />
        ))
      )}

      <div className="jp-gpuguard-store">
        <div>
          {trans.__('Store:')}{' '}
          <span className="jp-gpuguard-store-size">
            {formatBytes(status.store.bytes)}
          </span>{' '}
          {trans.__('on disk in')}{' '}
          <code className="jp-gpuguard-store-path" title={status.store.path}>
            {status.store.path}
          </code>
        </div>
        {status.store.persistent_reason &&
          status.store.persistent !== false && (
            <div className="jp-gpuguard-small jp-gpuguard-store-reason">
              {trans.__('Kept %1.', status.store.persistent_reason)}
            </div>
          )}
        {status.store.problems.length > 0 && (
          <div
            className="jp-gpuguard-small jp-gpuguard-store-problems"
            title={status.store.problems.join('\n')}
          >
            {trans._n(
              '%1 snapshot manifest is skipped: %2',
              '%1 snapshot manifests are skipped, the first: %2',
              status.store.problems.length,
              status.store.problems[0]
            )}
          </div>
        )}
        {status.prune_error && (
          <div className="jp-gpuguard-small jp-gpuguard-store-problems">
            {trans.__('Pruning old snapshots failed: %1', status.prune_error)}
          </div>
        )}
        <ReplicaSection
          replica={status.replica}
          persistent={status.store.persistent}
          now={now}
          onChanged={() => void model.refresh().catch(() => undefined)}
          trans={trans}
        />
      </div>
    </div>
  );
}

/**
 * The path to ask the history of a notebook for.
 */
function historyPath(model: ISnapshotsModel, notebook: IOpenNotebook): string {
  return model.kernel(notebook.kernelId)?.notebook || notebook.path;
}

/**
 * The snapshots of one open notebook.
 */
function NotebookSnapshots(props: {
  notebook: IOpenNotebook;
  model: ISnapshotsModel;
  status: ISnapshotStatus;
  actions: SnapshotActions;
  now: number;
  trans: TranslationBundle;
}): JSX.Element {
  const { notebook, model, status, actions, now, trans } = props;
  const kernelId = notebook.kernelId;
  const kernel = model.kernel(kernelId);
  const path = historyPath(model, notebook);
  const history = model.history(path);
  const historyError = model.historyError(path);
  const snapshotting = !!kernelId && model.isSnapshotting(kernelId);
  const restoring = !!kernelId && model.isRestoring(kernelId);
  const saving = snapshotting || !!kernel?.in_flight;
  const canAct = !!kernelId && !!kernel && kernel.supported !== false;

  let disabledWhy = '';
  if (!kernelId) {
    disabledWhy = trans.__('The notebook has no kernel.');
  } else if (!kernel) {
    disabledWhy = trans.__('Waiting for the server to see the kernel.');
  } else if (kernel.supported === false) {
    disabledWhy = kernel.reason;
  }

  const last = kernel ? lastSnapshotTime(kernel) : null;
  const overdue = kernel
    ? isOverdue(kernel, status, now, SNAPSHOT_POLL_INTERVAL)
    : false;

  return (
    <section
      className="jp-gpuguard-notebook"
      data-path={path}
      data-kernel-id={kernelId ?? ''}
    >
      <div className="jp-gpuguard-notebook-heading">
        <notebookIcon.react tag="span" className="jp-gpuguard-notebook-icon" />
        <span
          className="jp-gpuguard-notebook-name"
          title={notebook.panel.context.localPath}
        >
          {notebook.name}
        </span>
        <button
          className="jp-Button jp-mod-styled jp-mod-accept jp-gpuguard-snapshot-now"
          disabled={!canAct || saving || restoring}
          title={
            disabledWhy ||
            trans.__('Snapshot the variables of %1 now', notebook.name)
          }
          onClick={() => {
            if (kernelId) {
              void actions.snapshotNow(kernelId, notebook.name);
            }
          }}
        >
          {saving ? (
            <span className="jp-gpuguard-spinner" aria-hidden="true" />
          ) : (
            <snapshotIcon.react
              tag="span"
              className="jp-gpuguard-button-icon"
            />
          )}
          <span>
            {saving ? trans.__('Snapshotting…') : trans.__('Snapshot now')}
          </span>
        </button>
      </div>

      {kernel?.supported === false && (
        <div className="jp-gpuguard-banner jp-gpuguard-unsupported" role="note">
          {kernel.reason || trans.__('This kernel cannot be snapshotted.')}
        </div>
      )}
      {kernel &&
        kernel.supported !== false &&
        !kernel.attached &&
        kernel.reason && (
          <div
            className="jp-gpuguard-banner jp-gpuguard-unsupported"
            role="note"
          >
            {kernel.reason}
          </div>
        )}
      {kernel?.last_error && (
        <p className="jp-gpuguard-snapshot-error" role="alert">
          {trans.__('The last snapshot failed: %1', kernel.last_error)}
        </p>
      )}

      {kernel && kernel.supported !== false && (
        <dl className="jp-gpuguard-facts jp-gpuguard-snapshot-facts">
          <dt>{trans.__('Last')}</dt>
          <dd className="jp-gpuguard-last-snapshot">
            {last !== null && kernel.last_snapshot ? (
              <>
                <span title={formatClock(last, now)}>
                  {formatAgo(last, now, trans)}
                </span>
                {' · '}
                <span title={trans.__('Size of the variables')}>
                  {formatBytes(kernel.last_snapshot.bytes_total)}
                </span>
              </>
            ) : (
              <span className="jp-gpuguard-mod-none">
                {trans.__('none yet')}
              </span>
            )}
          </dd>
          <dt>{trans.__('Next')}</dt>
          <dd
            className={
              'jp-gpuguard-next-snapshot' +
              (overdue ? ' jp-gpuguard-mod-late' : '')
            }
          >
            {nextSnapshotText(kernel, status, now, trans)}
            {overdue && ' ' + trans.__('(late)')}
          </dd>
        </dl>
      )}
      {!kernelId && (
        <p className="jp-gpuguard-small">
          {trans.__('No kernel: start one to take snapshots.')}
        </p>
      )}
      {kernelId && !kernel && (
        <p className="jp-gpuguard-small">
          {trans.__('Waiting for the server to see the kernel…')}
        </p>
      )}

      {history && history.length > 0 && (
        <Timeline history={history} kernel={kernel} now={now} trans={trans} />
      )}

      <History
        history={history}
        error={historyError}
        kernelId={canAct ? kernelId : null}
        busy={saving || restoring}
        notebook={notebook}
        actions={actions}
        now={now}
        trans={trans}
      />
    </section>
  );
}

/**
 * The snapshots of a notebook, newest first, with Restore and Delete.
 */
function History(props: {
  history: ISnapshotInfo[] | null;
  error: string | null;
  kernelId: string | null;
  busy: boolean;
  notebook: IOpenNotebook;
  actions: SnapshotActions;
  now: number;
  trans: TranslationBundle;
}): JSX.Element {
  const { history, error, kernelId, busy, notebook, actions, now, trans } =
    props;
  if (history === null) {
    return (
      <p className="jp-gpuguard-small">
        {error
          ? trans.__('Could not list the snapshots: %1', error)
          : trans.__('Listing the snapshots…')}
      </p>
    );
  }
  if (history.length === 0) {
    return (
      <p className="jp-gpuguard-small jp-gpuguard-history-empty">
        {trans.__('No snapshot of this notebook yet.')}
      </p>
    );
  }
  return (
    <ul
      className="jp-gpuguard-history"
      aria-label={trans.__('Snapshots of %1', notebook.name)}
    >
      {history.map(snapshot => {
        const time = snapshotTime(snapshot);
        const names = snapshot.variables.map(v => `${v.name}: ${v.type}`);
        const skipped = snapshot.skipped.map(s => `${s.name}: ${s.reason}`);
        const details = [
          trans.__('Variables:') + ' ' + (names.join(', ') || '—'),
          ...(skipped.length
            ? [trans.__('Left out:') + ' ' + skipped.join('; ')]
            : []),
          ...snapshot.notes,
          trans.__(
            '%1 new on disk, written in %2 s',
            formatBytes(snapshot.bytes_written),
            (snapshot.duration_seconds ?? 0).toFixed(1)
          )
        ].join('\n');
        return (
          <li
            key={snapshot.id}
            className="jp-gpuguard-history-row"
            data-snapshot-id={snapshot.id}
            title={details}
          >
            <div className="jp-gpuguard-history-text">
              <span className="jp-gpuguard-history-time">
                {snapshotClock(snapshot)}
              </span>
              <span className="jp-gpuguard-small">
                {isNaN(time) ? '' : formatAgo(time, now, trans)}
              </span>
              <span className="jp-gpuguard-history-size">
                {trans._n(
                  '%1 variable',
                  '%1 variables',
                  snapshot.variables.length
                )}
                {' · '}
                {formatBytes(snapshot.bytes_total)}
                {snapshot.skipped.length > 0 && (
                  <span className="jp-gpuguard-history-skipped">
                    {' · '}
                    {trans.__('%1 left out', snapshot.skipped.length)}
                  </span>
                )}
                {' · '}
                <span
                  className="jp-gpuguard-history-where"
                  data-where={snapshot.where.join(' ')}
                >
                  {whereText(snapshot.where, trans)}
                </span>
              </span>
            </div>
            <button
              className="jp-Button jp-mod-styled jp-mod-reject jp-gpuguard-restore"
              disabled={!kernelId || busy}
              title={
                kernelId
                  ? trans.__('Restore into the kernel of %1', notebook.name)
                  : trans.__('The notebook has no kernel that can restore.')
              }
              onClick={() => {
                if (kernelId) {
                  void actions.confirmAndRestore(
                    snapshot,
                    kernelId,
                    notebook.name
                  );
                }
              }}
            >
              {trans.__('Restore')}
            </button>
            <button
              className="jp-Button jp-mod-minimal jp-gpuguard-delete"
              aria-label={trans.__('Delete')}
              title={trans.__('Delete this snapshot')}
              onClick={() => {
                void actions.confirmAndDelete(snapshot, notebook.name);
              }}
            >
              <deleteIcon.react tag="span" />
            </button>
          </li>
        );
      })}
    </ul>
  );
}
