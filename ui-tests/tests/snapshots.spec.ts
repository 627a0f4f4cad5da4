import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

/**
 * The server runs with the manual SPOT instance of jupyter_server_test_config.py
 * and a fresh snapshot store (galata_servers.py).
 */

const PANEL_ID = 'gpuguard-panel';
// moto's S3 server (playwright.config.js), and a port where nothing listens.
const S3 = 'http://127.0.0.1:8894';
const CLOSED = 'http://127.0.0.1:9';

/**
 * A notebook name no earlier run used.
 */
function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}.ipynb`;
}

/**
 * Run code in a new cell at the end of the notebook; answer its index.
 */
async function runInNewCell(
  page: IJupyterLabPageFixture,
  source: string
): Promise<number> {
  const count = await page.notebook.getCellCount();
  const index =
    count === 1 && (await page.notebook.getCellTextInput(0)) === '' ? 0 : count;
  if (index === 0) {
    await page.notebook.setCell(0, 'code', source);
  } else {
    await page.notebook.addCell('code', source);
  }
  await page.notebook.runCell(index);
  return index;
}

/**
 * The snapshot section of a notebook in the panel.
 */
async function notebookSection(page: IJupyterLabPageFixture, name: string) {
  await page.sidebar.openTab(PANEL_ID);
  return page
    .locator(`#${PANEL_ID} .jp-gpuguard-notebook`)
    .filter({ has: page.getByText(name, { exact: true }) });
}

test.describe('GPU Guard snapshots', () => {
  test('snapshot now, restart the kernel, restore the variables', async ({
    page
  }) => {
    const name = uniqueName('restore');
    await page.notebook.createNew(name);
    await runInNewCell(page, 'answer = 42\nwords = ["spot", "safe"]');

    const section = await notebookSection(page, name);
    await expect(section).toHaveCount(1);
    await expect(section.locator('.jp-gpuguard-history-empty')).toHaveText(
      'No snapshot of this notebook yet.',
      { timeout: 30000 }
    );
    const button = section.locator('.jp-gpuguard-snapshot-now');
    await expect(button).toHaveText('Snapshot now');
    await expect(button).toBeEnabled();
    await button.click();

    const rows = section.locator('.jp-gpuguard-history-row');
    await expect(rows).toHaveCount(1, { timeout: 30000 });
    await expect(rows.first()).toContainText('2 variables');
    await expect(
      rows.first().getByRole('button', { name: 'Restore' })
    ).toBeEnabled();
    await expect(section.locator('.jp-gpuguard-last-snapshot')).toHaveText(
      /^(just now|\d+ s ago) · \d+ B$/
    );
    await expect(section.locator('.jp-gpuguard-next-snapshot')).toHaveText(
      'when a cell has run'
    );
    await expect(section.locator('.jp-gpuguard-timeline rect')).toHaveCount(1);
    const store = page.locator(`#${PANEL_ID} .jp-gpuguard-store`);
    await expect(store).toContainText('gpuguard-ui-store-');
    await expect(store.locator('.jp-gpuguard-store-size')).not.toHaveText(
      '0 B'
    );
    await expect(page.locator(`#${PANEL_ID}`)).toContainText(
      'spot instance: sqrt(2 x'
    );

    // Let the toasts go before the picture.
    await page.setViewportSize({ width: 1024, height: 1000 });
    await page.sidebar.setWidth(360);
    await expect(page.locator('.Toastify__toast--success')).toHaveCount(0, {
      timeout: 10000
    });
    await page.locator(`#${PANEL_ID}`).screenshot({
      path: path.resolve(__dirname, '..', '..', 'docs', 'snapshots.png')
    });

    // A new kernel process: nothing ran in it.
    await page.notebook.clickToolbarItem('restart');
    const restart = page.locator('.jp-Dialog .jp-mod-accept');
    await expect(restart).toHaveText('Restart');
    await restart.click();

    const prompt = page.locator('.jp-gpuguard-restore-dialog');
    await expect(prompt).toBeVisible({ timeout: 30000 });
    await expect(prompt).toContainText('Restore 2 variables (');
    await expect(prompt).toContainText(') saved at ');
    await expect(prompt.locator('.jp-gpuguard-variable-names')).toHaveText(
      'answer, words'
    );
    await expect(prompt.getByRole('button', { name: 'Not now' })).toBeVisible();
    await prompt.getByRole('button', { name: 'Restore', exact: true }).click();

    const report = page.locator('.jp-gpuguard-report-dialog');
    await expect(report).toBeVisible({ timeout: 30000 });
    await expect(report).toContainText(`Restored 2 variables into ${name}`);
    const restored = report.locator('.jp-gpuguard-report-restored li');
    await expect(restored).toHaveText(['answer int', 'words list']);
    await report.getByRole('button', { name: 'Close' }).click();
    await expect(report).toHaveCount(0);

    // With ipykernel 7.4 and jupyter_server 2.21, the notebook's connection
    // stays deaf after a restart until it reconnects (with or without this
    // extension); the variables live in the kernel process either way.
    await page.menu.clickMenuItem('Kernel>Reconnect to Kernel');

    const index = await runInNewCell(page, 'print(answer, words)');
    expect(await page.notebook.getCellTextOutput(index)).toEqual([
      "42 ['spot', 'safe']\n"
    ]);

    // Offered once per kernel: no second prompt while the panel polls.
    await page.waitForTimeout(2000);
    await expect(prompt).toHaveCount(0);
  });

  test('restore shows the cells that rebuild a generator, and re-runs them', async ({
    page
  }) => {
    const name = uniqueName('rebuild');
    await page.notebook.createNew(name);
    await runInNewCell(page, 'start = 5');
    await runInNewCell(
      page,
      'steps = (start + i for i in range(100))\nfirst = next(steps)'
    );

    const section = await notebookSection(page, name);
    const button = section.locator('.jp-gpuguard-snapshot-now');
    await expect(button).toBeEnabled({ timeout: 30000 });
    await button.click();
    const rows = section.locator('.jp-gpuguard-history-row');
    await expect(rows).toHaveCount(1, { timeout: 30000 });

    await page.notebook.clickToolbarItem('restart');
    await page.locator('.jp-Dialog .jp-mod-accept').click();

    const prompt = page.locator('.jp-gpuguard-restore-dialog');
    await expect(prompt).toBeVisible({ timeout: 30000 });
    await expect(prompt.locator('.jp-gpuguard-plan-summary')).toHaveText(
      'Rebuild steps by re-running 1 cell (cell 2)?'
    );
    await expect(prompt.locator('.jp-gpuguard-plan-cell pre')).toHaveText(
      'steps = (start + i for i in range(100))\nfirst = next(steps)'
    );
    await expect(
      prompt.getByRole('button', { name: 'Restore without rebuilding' })
    ).toBeVisible();
    await prompt.getByRole('button', { name: 'Restore and rebuild' }).click();

    const report = page.locator('.jp-gpuguard-report-dialog');
    await expect(report).toBeVisible({ timeout: 30000 });
    await expect(report).toContainText(`Restored 3 variables into ${name}`);
    await expect(report.locator('.jp-gpuguard-report-rebuilt')).toContainText(
      'By re-running cell [2]:'
    );
    await expect(report.locator('.jp-gpuguard-report-rebuilt li')).toHaveText([
      'steps'
    ]);
    await report.getByRole('button', { name: 'Close' }).click();

    await page.menu.clickMenuItem('Kernel>Reconnect to Kernel');
    const index = await runInNewCell(page, 'print(first, next(steps))');
    expect(await page.notebook.getCellTextOutput(index)).toEqual(['5 6\n']);
  });

  test('the status bar tells when the variables were saved', async ({
    page
  }) => {
    const name = uniqueName('status');
    await page.notebook.createNew(name);
    await runInNewCell(page, 'x = list(range(1000))');

    const item = page.locator('.jp-gpuguard-snapshot-status');
    await expect(item).toHaveText('not saved yet', { timeout: 30000 });
    await expect(item).toHaveAttribute('data-state', 'not-saved');
    await expect(item).toHaveAttribute('data-warning', 'false');

    // The notebook toolbar button runs "Snapshot Now".
    const toolbarButton = page.locator(
      '.jp-NotebookPanel-toolbar [data-command="gpuguard:snapshot-now"]'
    );
    await expect(toolbarButton).toBeEnabled();
    await toolbarButton.click();

    await expect(item).toHaveAttribute('data-state', 'saved', {
      timeout: 30000
    });
    await expect(item).toHaveText(/^saved (just now|\d+ s ago)$/);
    await expect(item).toHaveAttribute('data-warning', 'false');
    await expect
      .poll(async () =>
        (await page.notifications)
          .filter(n => n.type === 'success')
          .map(n => n.message)
      )
      .toEqual([
        expect.stringMatching(/^Saved 1 variable \([\d.]+ k?B\) of status-/)
      ]);
    // It ticks.
    await expect(item).toHaveText(/^saved \d+ s ago$/, { timeout: 15000 });

    // "Restore Latest Snapshot" from the command palette.
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await palette
      .locator('.lm-CommandPalette-input')
      .fill('Restore Latest Snapshot');
    await expect(
      palette.locator('.lm-CommandPalette-item').first()
    ).toContainText('Restore Latest Snapshot');
    await page.keyboard.press('Enter');
    const confirmRestore = page.locator('.jp-Dialog');
    await expect(confirmRestore).toContainText(`Restore 1 variable (`);
    await expect(confirmRestore).toContainText(`into the kernel of ${name}?`);
    await confirmRestore.locator('.jp-mod-accept').click();
    const report = page.locator('.jp-gpuguard-report-dialog');
    await expect(report).toContainText(`Restored 1 variable into ${name}`);
    await expect(report.locator('.jp-gpuguard-report-restored li')).toHaveText([
      'x list'
    ]);
    await report.locator('.jp-mod-accept').click();

    // Clicking opens the panel, where the snapshot can be deleted.
    await item.click();
    const section = await notebookSection(page, name);
    const rows = section.locator('.jp-gpuguard-history-row');
    await expect(rows).toHaveCount(1);
    await rows.first().getByRole('button', { name: 'Delete' }).click();
    const confirm = page.locator('.jp-Dialog');
    await expect(confirm).toContainText('Delete the snapshot of');
    await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect(rows).toHaveCount(0);
    await expect(section.locator('.jp-gpuguard-history-empty')).toBeVisible();
  });
  test('a replica on object storage: refused with the reason, then used', async ({
    page,
    request
  }) => {
    const bucket = `galata-${Date.now().toString(36)}`;
    expect((await request.put(`${S3}/${bucket}`)).ok()).toBe(true);
    const name = uniqueName('replica');
    await page.notebook.createNew(name);
    await runInNewCell(page, 'weights = list(range(1000))');

    await page.sidebar.openTab(PANEL_ID);
    const replica = page.locator(`#${PANEL_ID} .jp-gpuguard-replica`);
    await replica.scrollIntoViewIfNeeded();
    await expect(replica).toContainText('No replica');
    await replica.getByRole('button', { name: 'Add a replica…' }).click();
    const form = replica.locator('.jp-gpuguard-replica-form');
    await expect(form).toContainText('anyone who can write to this bucket');
    await form.locator('input[name="url"]').fill(`s3://${bucket}/galata`);
    await form.locator('input[name="endpoint_url"]').fill(CLOSED);
    await form.locator('input[name="access_key_id"]').fill('galata-key-id');
    await form.locator('input[name="secret_access_key"]').fill('galata-secret');
    await form.getByRole('button', { name: 'Check and use' }).click();
    await expect(form.locator('.jp-gpuguard-replica-form-error')).toContainText(
      'cannot be reached',
      { timeout: 30000 }
    );

    await form.locator('input[name="endpoint_url"]').fill(S3);
    await form.getByRole('button', { name: 'Check and use' }).click();
    await expect(replica.locator('.jp-gpuguard-replica-line')).toContainText(
      `Replicated to s3://${bucket}/galata`,
      { timeout: 30000 }
    );

    const section = await notebookSection(page, name);
    await section.getByRole('button', { name: 'Snapshot now' }).click();
    const where = section.locator(
      '.jp-gpuguard-history-row .jp-gpuguard-history-where'
    );
    await expect(where).toHaveText('this disk and the replica', {
      timeout: 60000
    });
    await expect(replica.locator('.jp-gpuguard-replica-behind')).toContainText(
      'up to date'
    );
    const listing = await (await request.get(`${S3}/${bucket}`)).text();
    expect(listing).toContain('galata/snapshots/');
    expect(await page.content()).not.toContain('galata-secret');

    await replica.getByRole('button', { name: 'Stop using it' }).click();
    await expect(replica).toContainText('No replica', { timeout: 30000 });
  });
});
