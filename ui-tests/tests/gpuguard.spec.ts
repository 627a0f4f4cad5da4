import { expect, test } from '@jupyterlab/galata';
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
