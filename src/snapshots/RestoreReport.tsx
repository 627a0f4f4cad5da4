import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type {
  IRebuildPlan,
  IRestoreReport,
  IRestoreSkipped,
  ISnapshotInfo
} from '../api/snapshots';
import { snapshotClock } from './state';

/**
 * The first names of a snapshot's variables.
 */
export function VariableNames(props: {
  snapshot: ISnapshotInfo;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { snapshot, trans } = props;
  const max = 12;
  const names = snapshot.variables.map(v => v.name);
  if (names.length === 0) {
    return null;
  }
  return (
    <p className="jp-gpuguard-small jp-gpuguard-variable-names">
      {names.slice(0, max).map((name, index) => (
        <React.Fragment key={name}>
          {index > 0 && ', '}
          <code>{name}</code>
        </React.Fragment>
      ))}
      {names.length > max && ' ' + trans.__('and %1 more', names.length - max)}
    </p>
  );
}

/**
 * The cells a rebuild would re-run, with their code and what makes them risky.
 */
export function RebuildPlanView(props: {
  plan: IRebuildPlan;
  trans: TranslationBundle;
}): JSX.Element {
  const { plan, trans } = props;
  const unrebuildable = Object.entries(plan.unrebuildable);
  return (
    <section className="jp-gpuguard-plan">
      {plan.cells.length > 0 && (
        <p className="jp-gpuguard-plan-summary">{plan.summary}</p>
      )}
      {plan.cells.map(cell => (
        <div
          className="jp-gpuguard-plan-cell"
          key={cell.execution_count}
          data-execution-count={cell.execution_count}
        >
          <div className="jp-gpuguard-plan-cell-heading">
            <span className="jp-gpuguard-small">
              {trans.__('cell [%1]', cell.execution_count)}
              {cell.rebuilds.length > 0 && ' → ' + cell.rebuilds.join(', ')}
            </span>
            {cell.flags.map(flag => (
              <span className="jp-gpuguard-flag" key={flag}>
                {flag}
              </span>
            ))}
          </div>
          <pre>{cell.source}</pre>
        </div>
      ))}
      {unrebuildable.length > 0 && (
        <ul className="jp-gpuguard-small jp-gpuguard-unrebuildable">
          {unrebuildable.map(([name, why]) => (
            <li key={name}>
              {trans.__('%1 cannot be rebuilt: %2', name, why)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * What a restore did: restored, rebuilt, skipped, failed, notes.
 */
export function RestoreReport(props: {
  report: IRestoreReport;
  snapshot: ISnapshotInfo | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { report, snapshot, trans } = props;
  const typeOf = (name: string) =>
    snapshot?.variables.find(v => v.name === name)?.type;
  const notRebuilt = report.skipped.filter(
    s => !report.rebuilt.includes(s.name)
  );
  return (
    <div className="jp-gpuguard-report">
      {snapshot && (
        <p className="jp-gpuguard-small">
          {trans.__('Snapshot saved at %1.', snapshotClock(snapshot))}
        </p>
      )}
      <section className="jp-gpuguard-report-restored">
        <h3>
          {trans.__('Restored')} ({report.restored.length})
        </h3>
        {report.restored.length > 0 ? (
          <ul>
            {report.restored.map(name => (
              <li key={name}>
                <code>{name}</code>
                {typeOf(name) && (
                  <span className="jp-gpuguard-type"> {typeOf(name)}</span>
                )}
              </li>
            ))}
          </ul>
        ) : (
          <p className="jp-gpuguard-small">{trans.__('No variable.')}</p>
        )}
        {report.modules.length > 0 && (
          <p className="jp-gpuguard-small jp-gpuguard-report-modules">
            {trans.__('Imported again:')}{' '}
            {report.modules.map((name, index) => (
              <React.Fragment key={name}>
                {index > 0 && ', '}
                <code>{name}</code>
              </React.Fragment>
            ))}
          </p>
        )}
      </section>
      {report.rebuilt.length > 0 && (
        <section className="jp-gpuguard-report-rebuilt">
          <h3>
            {trans.__('Rebuilt')} ({report.rebuilt.length})
          </h3>
          <p className="jp-gpuguard-small">
            {trans._n(
              'By re-running cell %2:',
              'By re-running cells %2:',
              report.replayed.length,
              report.replayed.map(c => `[${c.execution_count}]`).join(', ')
            )}
          </p>
          <ul>
            {report.rebuilt.map(name => (
              <li key={name}>
                <code>{name}</code>
              </li>
            ))}
          </ul>
        </section>
      )}
      {notRebuilt.length > 0 && (
        <section className="jp-gpuguard-report-skipped">
          <h3>
            {trans.__('Not restored')} ({notRebuilt.length})
          </h3>
          {groupByCell(notRebuilt).map(group => (
            <div className="jp-gpuguard-skipped-group" key={group.key}>
              <ul>
                {group.items.map(item => (
                  <li key={item.name}>
                    <code>{item.name}</code>
                    {item.type && (
                      <span className="jp-gpuguard-type"> {item.type}</span>
                    )}
                    {': '}
                    {item.reason}
                  </li>
                ))}
              </ul>
              {group.cell && (
                <div className="jp-gpuguard-defined-in">
                  {group.cell.execution_count !== null
                    ? trans._n(
                        'defined in cell [%2]; run it again:',
                        'all defined in cell [%2]; run it again:',
                        group.items.length,
                        group.cell.execution_count
                      )
                    : trans.__('defined in this cell; run it again:')}
                  <pre>{group.cell.source}</pre>
                </div>
              )}
            </div>
          ))}
        </section>
      )}
      {report.failed.length > 0 && (
        <section className="jp-gpuguard-report-failed">
          <h3>
            {trans.__('Failed')} ({report.failed.length})
          </h3>
          <ul>
            {report.failed.map(item => (
              <li key={item.name}>
                <code>{item.name}</code>: {item.error}
              </li>
            ))}
          </ul>
        </section>
      )}
      {report.notes.length > 0 && (
        <section className="jp-gpuguard-report-notes">
          <h3>{trans.__('Notes')}</h3>
          <ul>
            {report.notes.map((note, index) => (
              <li key={index}>{note}</li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

/**
 * Skipped variables grouped by the cell that defined them, in order.
 */
function groupByCell(skipped: IRestoreSkipped[]): {
  key: string;
  cell: IRestoreSkipped['defined_in'];
  items: IRestoreSkipped[];
}[] {
  const groups = new Map<
    string,
    {
      key: string;
      cell: IRestoreSkipped['defined_in'];
      items: IRestoreSkipped[];
    }
  >();
  for (const item of skipped) {
    const cell = item.defined_in;
    const key = cell ? `${cell.execution_count}\n${cell.source}` : '';
    let group = groups.get(key);
    if (!group) {
      group = { key, cell, items: [] };
      groups.set(key, group);
    }
    group.items.push(item);
  }
  return [...groups.values()];
}
