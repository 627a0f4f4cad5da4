import { expect, galata, test } from '@jupyterlab/galata';
import * as path from 'path';

/**
 * The server runs with the manual SPOT instance of
 * jupyter_server_test_config.py: RTX A6000, $0.23/h, on-demand $0.49/h.
 */

const PANEL_ID = 'gpuguard-panel';

test.describe('GPU Guard', () => {
  test('the panel shows the manual spot instance', async ({ page }) => {
    await page.sidebar.openTab(PANEL_ID);
    const panel = page.locator(`#${PANEL_ID}`);
    await expect(panel).toBeVisible();

    // Wait for the first answer of the server.
    await expect(panel.locator('.jp-gpuguard-loading')).toHaveCount(0, {
      timeout: 30000
    });
    await expect(panel.locator('.jp-gpuguard-error')).toHaveCount(0);

    await expect(panel.locator('.jp-gpuguard-title')).toHaveText('GPU Guard');
    await expect(panel.locator('.jp-gpuguard-provider')).toHaveText('Manual');
    await expect(panel.locator('.jp-gpuguard-instance-type')).toHaveText(
      'gpu-1x-a6000'
    );
    await expect(panel.locator('.jp-gpuguard-region')).toHaveText('EU-RO-1');
    await expect(panel.locator('.jp-gpuguard-gpu')).toContainText('RTX A6000');
    await expect(panel.locator('.jp-gpuguard-gpu')).toContainText('48 GB');

    const badge = panel.locator('.jp-gpuguard-badge');
    await expect(badge).toHaveText('Spot');
    await expect(badge).toHaveAttribute('data-state', 'spot');

    await expect(panel.locator('.jp-gpuguard-price')).toHaveText('$0.23/h');
    // (0.49 - 0.23) / 0.49 = 53 %
    await expect(panel.locator('.jp-gpuguard-on-demand')).toHaveText(
      'On-demand $0.49/h — you save 53 %'
    );

    const banner = panel.locator('.jp-gpuguard-spot-banner');
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('This kernel can vanish without notice');
    await expect(panel.locator('.jp-gpuguard-notice-banner')).toHaveCount(0);

    // The session cost is a money amount that ticks every second.
    const cost = panel.locator('.jp-gpuguard-session-cost');
    await expect(cost).toHaveText(/^\$\d+\.\d{4}$/);
    const before = await cost.textContent();
    await expect
      .poll(async () => cost.textContent(), { timeout: 15000 })
      .not.toBe(before);

    await page.sidebar.setWidth(340);
    await page.waitForTimeout(500);
    await panel.screenshot({
      path: path.resolve(__dirname, '..', '..', 'docs', 'panel.png')
    });
  });

  test('a new notebook on a spot instance raises the spot warning', async ({
    page
  }) => {
    await page.notebook.createNew();

    const toast = page
      .locator('.jp-Notification-Toast-warning')
      .filter({ hasText: 'spot instance' });
    await expect(toast).toHaveCount(1, { timeout: 30000 });
    await expect(toast).toContainText('can vanish without notice');
    await expect(toast).toContainText('on-demand pod');

    const notifications = await page.notifications;
    const warnings = notifications.filter(
      n => n.type === 'warning' && n.message.includes('spot instance')
    );
    expect(warnings).toHaveLength(1);

    // The action opens the panel.
    await toast.getByRole('button', { name: 'Show GPU Guard' }).click();
    await expect(page.locator(`#${PANEL_ID}`)).toBeVisible();
    await expect(
      page.locator(`#${PANEL_ID} .jp-gpuguard-spot-banner`)
    ).toBeVisible();
  });

  test('the status bar item shows the instance and opens the panel', async ({
    page
  }) => {
    const item = page.locator('.jp-gpuguard-status');
    await expect(item).toHaveText('RTX A6000 · spot · $0.23/h', {
      timeout: 30000
    });
    await expect(item).toHaveAttribute('data-state', 'spot');

    await expect(page.locator(`#${PANEL_ID}`)).toBeHidden();
    await item.click();
    await expect(page.locator(`#${PANEL_ID}`)).toBeVisible();
    await expect(page.locator(`#${PANEL_ID} .jp-gpuguard-badge`)).toHaveText(
      'Spot'
    );
    expect(await page.sidebar.isTabOpen(PANEL_ID)).toBe(true);
  });
});

/**
 * An AWS g5.xlarge spot instance: the server reads a loopback IMDSv2 (see
 * jupyter_server_test_config_aws.py), whose control route schedules an interruption.
 */
test.describe('GPU Guard on an AWS spot instance', () => {
  test.use({ baseURL: 'http://localhost:8889' });

  test('the instance is read from the metadata service, with an unknown spot price', async ({
    page
  }) => {
    const item = page.locator('.jp-gpuguard-status');
    await expect(item).toHaveText('NVIDIA A10G · spot · price unknown', {
      timeout: 30000
    });
    await item.click();
    const panel = page.locator(`#${PANEL_ID}`);
    await expect(panel.locator('.jp-gpuguard-provider')).toHaveText('AWS');
    await expect(panel.locator('.jp-gpuguard-instance-type')).toHaveText(
      'g5.xlarge'
    );
    await expect(panel.locator('.jp-gpuguard-region')).toHaveText('us-east-1');
    await expect(panel.locator('.jp-gpuguard-badge')).toHaveText('Spot');
    await expect(panel.locator('.jp-gpuguard-price')).toHaveText(
      'price unknown'
    );
    await expect(panel).toContainText('c.GpuGuard.prices');
    await expect(panel.locator('.jp-gpuguard-spot-banner')).toBeVisible();
  });

  test('a preemption notice raises an alarm with a countdown', async ({
    page,
    request
  }) => {
    const item = page.locator('.jp-gpuguard-status');
    await expect(item).toHaveAttribute('data-state', 'spot', {
      timeout: 30000
    });
    // A notebook with state in its kernel: the notice must snapshot it.
    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', 'epoch = 7');
    await page.notebook.run();

    const deadline = new Date(Date.now() + 120_000).toISOString();
    const scheduled = await request.post(
      'http://127.0.0.1:18889/__control/interrupt',
      { data: { action: 'terminate', time: deadline } }
    );
    expect(scheduled.ok()).toBe(true);

    await expect(item).toHaveAttribute('data-state', 'notice', {
      timeout: 15000
    });
    const toast = page
      .locator('.jp-Notification-Toast-error')
      .filter({ hasText: 'Preemption notice' });
    await expect(toast).toHaveCount(1);
    await expect(toast).toContainText(/goes away in 0[12]:\d\d/);

    await item.click();
    const banner = page.locator(`#${PANEL_ID} .jp-gpuguard-notice-banner`);
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('AWS');
    const countdown = banner.locator('.jp-gpuguard-countdown');
    await expect(countdown).toHaveText(/^0[12]:\d\d$/);
    const first = await countdown.textContent();
    await expect.poll(() => countdown.textContent()).not.toBe(first);

    // Every kernel was snapshotted at once, and the user is told so.
    await expect
      .poll(
        async () =>
          (await page.notifications).filter(n =>
            n.message.includes('Saved 1 kernel')
          ).length,
        { timeout: 30000 }
      )
      .toBe(1);
  });
});

test.describe('GPU Guard on a laptop', () => {
  test.use({ baseURL: 'http://localhost:8890' });

  test('a local machine has no hourly price', async ({ page }) => {
    await expect(page.locator('.jp-gpuguard-status')).toHaveText(
      'no GPU · local',
      { timeout: 30000 }
    );
    await page.sidebar.openTab(PANEL_ID);
    const panel = page.locator(`#${PANEL_ID}`);
    await expect(panel.locator('.jp-gpuguard-provider')).toHaveText(
      'Local machine'
    );
    await expect(panel.locator('.jp-gpuguard-price')).toHaveText(
      'local machine, no hourly price'
    );
    await expect(panel.locator('.jp-gpuguard-badge')).toHaveText('Local');
    await expect(panel.locator('.jp-gpuguard-session-cost')).toHaveCount(0);
    await expect(panel.locator('.jp-gpuguard-spot-banner')).toHaveCount(0);
    await expect(panel).not.toContainText('$0');
  });
});

test.describe('GPU Guard without its server extension', () => {
  test.use({ baseURL: 'http://localhost:8891' });

  test('the panel says the server extension is missing and how to fix it', async ({
    page
  }) => {
    const item = page.locator('.jp-gpuguard-status');
    await expect(item).toHaveText('GPU Guard: server extension missing', {
      timeout: 30000
    });
    await item.click();
    const error = page.locator(`#${PANEL_ID} .jp-gpuguard-error`);
    await expect(error).toContainText(
      'The jupyter_gpuguard server extension is not running: 404'
    );
    await expect(error).toContainText(
      'pip install --no-index --find-links /workspace/.gpuguard/wheels'
    );
    await expect(error).toContainText(
      'jupyter server extension enable jupyter_gpuguard'
    );
    await expect(page.locator(`#${PANEL_ID} .jp-gpuguard-badge`)).toHaveCount(
      0
    );
  });
});

test.describe('GPU Guard settings', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyter-gpuguard:plugin': { spotWarning: false }
    }
  });

  test('spotWarning: false turns the spot warning off', async ({ page }) => {
    await page.notebook.createNew();
    // The status bar proves that the instance answered as spot.
    await expect(page.locator('.jp-gpuguard-status')).toHaveText(
      'RTX A6000 · spot · $0.23/h'
    );
    await page.waitForTimeout(3000);
    const notifications = await page.notifications;
    expect(
      notifications.filter(n => n.message.includes('spot instance'))
    ).toHaveLength(0);
    await expect(page.locator('.jp-Notification-Toast-warning')).toHaveCount(0);
  });
});
