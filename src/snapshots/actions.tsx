import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type {
  IRebuildPlan,
  IRestoreReport,
  ISnapshotInfo
} from '../api/snapshots';
import { formatBytes } from '../common/format';
import { describeError } from '../common/errors';
import { ISnapshotsModel } from '../tokens';
import { RebuildPlanView, RestoreReport, VariableNames } from './RestoreReport';
import { snapshotClock, variablesText } from './state';

/**
 * The snapshot actions with their dialogs and progress, shared by the panel,
 * the commands and the restore prompt.
 */
export class SnapshotActions {
  constructor(options: SnapshotActions.IOptions) {
    this.model = options.model;
    this.trans = options.trans;
  }

  readonly model: ISnapshotsModel;
  readonly trans: TranslationBundle;

  /**
   * Snapshot a kernel now, with a progress notification.
   *
   * @returns The snapshot, or null when it failed (the user was told).
   */
  async snapshotNow(
    kernelId: string,
    notebookName: string
  ): Promise<ISnapshotInfo | null> {
    const trans = this.trans;
    const promise = this.model.snapshot(kernelId);
    const done = promise.then(info =>
      trans.__('Saved %1 of %2.', variablesText(info, trans), notebookName)
    );
    Notification.promise(done, {
      pending: {
        message: trans.__('Snapshotting the variables of %1…', notebookName),
        options: { autoClose: false }
      },
      success: {
        message: result => result as string,
        options: { autoClose: 4000 }
      },
      error: {
        message: reason =>
          trans.__(
            'The snapshot of %1 failed: %2',
            notebookName,
            describeError(reason)
          ),
        options: { autoClose: false }
      }
    });
    try {
      return await promise;
    } catch {
      return null;
    }
  }

  /**
   * Ask, then restore a snapshot into a kernel and show the report.
   *
   * @returns The report, or null when cancelled or failed (the user was told).
   */
  async confirmAndRestore(
    snapshot: ISnapshotInfo,
    kernelId: string,
    notebookName: string
  ): Promise<IRestoreReport | null> {
    const trans = this.trans;
    const choice = await this.askRestore(snapshot, {
      title: trans.__('Restore snapshot?'),
      className: 'jp-gpuguard-confirm-dialog',
      cancelLabel: trans.__('Cancel'),
      intro: (
        <>
          <p>
            {trans.__(
              'Restore %1 saved at %2 into the kernel of %3?',
              variablesText(snapshot, trans),
              snapshotClock(snapshot),
              notebookName
            )}
          </p>
          <p className="jp-gpuguard-small">
            {trans.__(
              'Variables of the same names in the kernel are replaced; the others are kept.'
            )}
          </p>
        </>
      )
    });
    if (choice === 'cancel') {
      return null;
    }
    return this.restore(snapshot, kernelId, notebookName, choice === 'rebuild');
  }

  /**
   * The restore dialog: the snapshot, and the cells that would rebuild what it
   * could not save, with the choice to re-run them.
   */
  async askRestore(
    snapshot: ISnapshotInfo,
    options: {
      title: string;
      intro: JSX.Element;
      cancelLabel: string;
      className: string;
    }
  ): Promise<'cancel' | 'restore' | 'rebuild'> {
    const trans = this.trans;
    let plan: IRebuildPlan | null = null;
    if (snapshot.skipped.length > 0) {
      plan = await this.model.plan(snapshot).catch(() => null);
    }
    const canRebuild = plan !== null && plan.cells.length > 0;
    const rebuildLabel = trans.__('Restore and rebuild');
    const restoreOnlyLabel = trans.__('Restore without rebuilding');
    const dialog = new Dialog({
      title: options.title,
      body: (
        <div className="jp-gpuguard-confirm">
          {options.intro}
          <VariableNames snapshot={snapshot} trans={trans} />
          {plan && plan.targets.length > 0 && (
            <RebuildPlanView plan={plan} trans={trans} />
          )}
        </div>
      ),
      buttons: [
        Dialog.cancelButton({ label: options.cancelLabel }),
        ...(canRebuild
          ? [
              // Not the accent colour: one main choice per dialog.
              Dialog.cancelButton({ label: restoreOnlyLabel }),
              Dialog.okButton({ label: rebuildLabel })
            ]
          : [Dialog.okButton({ label: trans.__('Restore') })])
      ]
    });
    dialog.addClass(options.className);
    const result = await dialog.launch();
    if (result.button.label === restoreOnlyLabel) {
      return 'restore';
    }
    if (!result.button.accept) {
      return 'cancel';
    }
    return result.button.label === rebuildLabel ? 'rebuild' : 'restore';
  }

  /**
   * Restore a snapshot into a kernel with a progress notification, then
   * show the report.
   *
   * @returns The report, or null when it failed (the user was told).
   */
  async restore(
    snapshot: ISnapshotInfo,
    kernelId: string,
    notebookName: string,
    rebuild = false
  ): Promise<IRestoreReport | null> {
    const trans = this.trans;
    const id = Notification.emit(
      rebuild
        ? trans.__(
            'Restoring %1 into %2, then re-running the cells that rebuild the rest…',
            variablesText(snapshot, trans),
            notebookName
          )
        : trans.__(
            'Restoring %1 into %2…',
            variablesText(snapshot, trans),
            notebookName
          ),
      'in-progress',
      { autoClose: false }
    );
    let report: IRestoreReport;
    try {
      report = await this.model.restore(snapshot, kernelId, rebuild);
    } catch (reason) {
      Notification.update({
        id,
        type: 'error',
        message: trans.__(
          'Restoring into %1 failed: %2',
          notebookName,
          describeError(reason)
        ),
        autoClose: false
      });
      return null;
    }
    // Updated rather than dismissed: a toast dismissed right after it was
    // emitted can stay on screen.
    Notification.update({
      id,
      type: report.failed.length > 0 ? 'warning' : 'success',
      message:
        report.rebuilt.length > 0
          ? trans.__(
              'Restored %1 and rebuilt %2 variables into %3.',
              report.restored.length,
              report.rebuilt.length,
              notebookName
            )
          : trans._n(
              'Restored %1 variable into %2.',
              'Restored %1 variables into %2.',
              report.restored.length,
              notebookName
            ),
      autoClose: 3000
    });
    await this.showReport(report, snapshot, notebookName);
    return report;
  }

  /**
   * Show what a restore did.
   */
  async showReport(
    report: IRestoreReport,
    snapshot: ISnapshotInfo | null,
    notebookName: string
  ): Promise<void> {
    const trans = this.trans;
    const back = report.restored.length + report.rebuilt.length;
    const missing = new Set([
      ...report.failed.map(f => f.name),
      ...report.skipped.map(s => s.name)
    ]);
    report.rebuilt.forEach(name => missing.delete(name));
    const title =
      missing.size === 0
        ? trans._n(
            'Restored %1 variable into %2',
            'Restored %1 variables into %2',
            back,
            notebookName
          )
        : trans.__(
            'Restored %1 of %2 variables into %3',
            back,
            back + missing.size,
            notebookName
          );
    const dialog = new Dialog({
      title,
      body: <RestoreReport report={report} snapshot={snapshot} trans={trans} />,
      buttons: [Dialog.okButton({ label: trans.__('Close') })]
    });
    dialog.addClass('jp-gpuguard-report-dialog');
    await dialog.launch();
  }

  /**
   * Ask, then delete a snapshot.
   *
   * @returns Whether it was deleted.
   */
  async confirmAndDelete(
    snapshot: ISnapshotInfo,
    notebookName: string
  ): Promise<boolean> {
    const trans = this.trans;
    const result = await showDialog({
      title: trans.__('Delete snapshot?'),
      body: trans.__(
        'Delete the snapshot of %1 saved at %2 (%3)? This cannot be undone.',
        notebookName,
        snapshotClock(snapshot),
        variablesText(snapshot, trans)
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!result.button.accept) {
      return false;
    }
    try {
      await this.model.delete(snapshot);
      return true;
    } catch (reason) {
      Notification.error(
        trans.__('Deleting the snapshot failed: %1', describeError(reason)),
        { autoClose: false }
      );
      return false;
    }
  }

  /**
   * Offer to restore the newest snapshot into a kernel where nothing ran yet.
   *
   * @returns The report, or null when declined or failed.
   */
  async offerRestore(
    snapshot: ISnapshotInfo,
    kernelId: string,
    notebookName: string
  ): Promise<IRestoreReport | null> {
    const trans = this.trans;
    const choice = await this.askRestore(snapshot, {
      title: trans.__('Restore the variables of %1?', notebookName),
      className: 'jp-gpuguard-restore-dialog',
      cancelLabel: trans.__('Not now'),
      intro: (
        <>
          <p className="jp-gpuguard-offer">
            {trans._n(
              'Restore %1 variable (%2) saved at %3?',
              'Restore %1 variables (%2) saved at %3?',
              snapshot.variables.length,
              formatBytes(snapshot.bytes_total),
              snapshotClock(snapshot)
            )}
          </p>
          <p className="jp-gpuguard-small">
            {trans.__(
              'Nothing ran in this kernel yet. GPU Guard kept a snapshot of the variables from an earlier kernel of this notebook.'
            )}
          </p>
        </>
      )
    });
    if (choice === 'cancel') {
      return null;
    }
    return this.restore(snapshot, kernelId, notebookName, choice === 'rebuild');
  }
}

export namespace SnapshotActions {
  export interface IOptions {
    model: ISnapshotsModel;
    trans: TranslationBundle;
  }
}
