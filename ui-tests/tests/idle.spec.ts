import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

/**
 * The server on port 8893 (jupyter_server_test_config_idle.py): a spot
 * machine at $2.49/h whose idle stop is 90 s away and warns 80 s before.
 */
test.use({ baseURL: 'http://localhost:8893' });

const PANEL_ID = 'gpuguard-panel';

/**
 * Seconds in a countdown text such as "01:25: snapshot every kernel, ...".
 */
function secondsIn(text: string | null): number {
  const match = /^(?:(\d+):)?(\d\d):(\d\d):/.exec(text ?? '');
  if (!match) {
    return NaN;
  }
  return (
    Number(match[1] ?? 0) * 3600 + Number(match[2]) * 60 + Number(match[3])
  );
}

async function openIdleSection(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.sidebar.openTab(PANEL_ID);
  const section = page.locator(`#${PANEL_ID} .jp-gpuguard-idle`);
  await expect(section).toBeVisible();
  await expect(section.locator('.jp-gpuguard-loading')).toHaveCount(0, {
    timeout: 30000
  });
  return section;
}

/**
 * Idle stop after 1.5 min, chosen in the panel: what the server starts with.
 */
async function chooseNinetySeconds(section: Locator): Promise<void> {
  await section.locator('.jp-gpuguard-idle-select').selectOption('custom');
  await section.locator('.jp-gpuguard-idle-minutes').fill('1.5');
  await section.locator('.jp-gpuguard-idle-apply').click();
  await expect(section.locator('.jp-gpuguard-idle-left')).toHaveText(
    /^0[01]:\d\d: snapshot every kernel, then stop this machine$/,
    { timeout: 15000 }
  );
}

test.describe('Idle stop', () => {
  test('counts down, warns, and Keep running starts again', async ({
    page
  }) => {
    const section = await openIdleSection(page);
    await chooseNinetySeconds(section);

    const left = section.locator('.jp-gpuguard-idle-left');
    await expect(section.locator('.jp-gpuguard-idle-bar')).toBeVisible();
    await expect(section.locator('.jp-gpuguard-idle-cost')).toHaveText(
      /^idle \d+ (s|min), \$\d+\.\d\d spent idle$/
    );

    // 80 s before the stop: the notification, with its own Keep running.
    const toast = page
      .locator('.jp-Notification-Toast-warning')
      .filter({ hasText: 'snapshot every kernel, then stop this machine' });
    await expect(toast).toHaveCount(1, { timeout: 30000 });
    await expect(toast).toContainText(
      /^Idle for \d+ s at \$2\.49\/h\. In 2 min/
    );
    await toast.getByRole('button', { name: 'Keep running' }).click();
    await expect(section.locator('.jp-gpuguard-idle-last')).toContainText(
      'Keep running was chosen',
      { timeout: 15000 }
    );
    await expect
      .poll(async () => secondsIn(await left.textContent()), { timeout: 15000 })
      .toBeGreaterThan(80);

    // The panel's button does the same once the countdown has run a while.
    await expect
      .poll(async () => secondsIn(await left.textContent()), { timeout: 30000 })
      .toBeLessThan(80);
    const before = secondsIn(await left.textContent());
    await section.getByRole('button', { name: 'Keep running' }).click();
    await expect
      .poll(async () => secondsIn(await left.textContent()), { timeout: 15000 })
      .toBeGreaterThan(before + 3);
  });

  test('one choice turns it off and on again', async ({ page }) => {
    const section = await openIdleSection(page);
    const select = section.locator('.jp-gpuguard-idle-select');

    await select.selectOption('off');
    await expect(section.locator('.jp-gpuguard-idle-off')).toHaveText(
      'When on, once idle for that long: snapshot every kernel, then stop this machine.'
    );
    await expect(section.locator('.jp-gpuguard-idle-bar')).toHaveCount(0);
    // Off still shows what idleness costs.
    await expect(section.locator('.jp-gpuguard-idle-cost')).toContainText(
      'spent idle'
    );

    await select.selectOption('1800');
    await expect(section.locator('.jp-gpuguard-idle-left')).toHaveText(
      /^(30:00|29:\d\d): snapshot every kernel/,
      { timeout: 15000 }
    );
    await chooseNinetySeconds(section);
  });

  test('the risk line says what a preemption would cost now', async ({
    page
  }) => {
    await openIdleSection(page);
    await page.notebook.createNew();
    await page.notebook.setCell(
      0,
      'code',
      'import time\ntime.sleep(1.2)\nstream = (i * 2 for i in range(10))'
    );
    await page.notebook.runCell(0);

    const risk = page.locator(`#${PANEL_ID} .jp-gpuguard-risk`);
    // The scheduler snapshots the kernel within seconds; the generator cannot
    // be saved and would be rebuilt by re-running its cell.
    await expect(risk).toHaveText(
      /^If this machine vanished now: no work since the last snapshot, 1 variable that would be rebuilt by re-running 1 cell \(about [12] s by their recorded run times\)$/,
      { timeout: 60000 }
    );
    // It sits beside the spot badge, in the instance section.
    await expect(
      page.locator(`#${PANEL_ID} .jp-gpuguard-instance .jp-gpuguard-risk`)
    ).toHaveCount(1);
    await expect(page.locator(`#${PANEL_ID} .jp-gpuguard-badge`)).toHaveText(
      'Spot'
    );
  });
});
