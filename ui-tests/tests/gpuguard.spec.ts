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
 * The other states, with the route's answer replaced in the browser.
 */
test.describe('GPU Guard states', () => {
  test.use({ autoGoto: false });

  const base = {
    provider: 'aws',
    instance_type: 'g5.xlarge',
    gpu_name: 'A10G',
    gpu_count: 1,
    gpu_memory_gb: 24,
    region: 'us-east-1',
    interruptible: true,
    price_per_hour: 0.45,
    on_demand_price_per_hour: 1.006,
    currency: 'USD',
    price_source: 'your c.GpuGuard.prices setting',
    uptime_seconds: 3000,
    session_cost: 0.375,
    session_cost_basis: 'since the VM started (AWS uptime)',
    preemption_notice: null,
    detail: 'AWS spot instance.',
    detected_at: 1795720000,
    detecting: false,
    warnings: []
  };

  async function answer(
    page: import('@playwright/test').Page,
    body: Record<string, unknown> | null,
    status = 200
  ): Promise<void> {
    await page.route(/\/gpuguard\/instance(\?.*)?$/, route =>
      route.fulfill({
        status,
        contentType: status === 200 ? 'application/json' : 'text/html',
        body: body ? JSON.stringify(body) : '<html>404: Not Found</html>'
      })
    );
  }

  test('a preemption notice shows a red banner with a countdown', async ({
    page
  }) => {
    const deadline = new Date(Date.now() + 120_000).toISOString();
    await answer(page, {
      ...base,
      preemption_notice: {
        deadline,
        source: 'AWS spot/instance-action (terminate)'
      }
    });
    await page.goto();

    const item = page.locator('.jp-gpuguard-status');
    await expect(item).toHaveText('A10G · spot · $0.45/h');
    await expect(item).toHaveAttribute('data-state', 'notice');

    const toast = page
      .locator('.jp-Notification-Toast-error')
      .filter({ hasText: 'Preemption notice' });
    await expect(toast).toHaveCount(1);
    await expect(toast).toContainText(/goes away in 0[12]:\d\d/);

    await item.click();
    const banner = page.locator(`#${PANEL_ID} .jp-gpuguard-notice-banner`);
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('AWS spot/instance-action (terminate)');
    const countdown = banner.locator('.jp-gpuguard-countdown');
    await expect(countdown).toHaveText(/^0[12]:\d\d$/);
    const first = await countdown.textContent();
    await expect.poll(() => countdown.textContent()).not.toBe(first);

    await expect(
      page.locator(`#${PANEL_ID} .jp-gpuguard-on-demand`)
    ).toHaveText('On-demand $1.01/h — you save 55 %');
  });

  test('a missing server extension shows an error state', async ({ page }) => {
    await answer(page, null, 404);
    await page.goto();

    const item = page.locator('.jp-gpuguard-status');
    await expect(item).toHaveText('GPU Guard: server extension missing');
    await item.click();

    const error = page.locator(`#${PANEL_ID} .jp-gpuguard-error`);
    await expect(error).toContainText(
      'The jupyter_gpuguard server extension is not running: 404'
    );
    await expect(error).toContainText('pip install jupyter-gpuguard');
    await expect(error).toContainText(
      'jupyter server extension enable jupyter_gpuguard'
    );
    await expect(page.locator(`#${PANEL_ID} .jp-gpuguard-badge`)).toHaveCount(
      0
    );
  });

  test('losing the server after an answer says so', async ({ page }) => {
    let reachable = true;
    await page.route(/\/gpuguard\/instance(\?.*)?$/, route =>
      reachable
        ? route.fulfill({
            status: 200,
            contentType: 'application/json',
            body: JSON.stringify(base)
          })
        : route.abort()
    );
    await page.goto();
    const item = page.locator('.jp-gpuguard-status');
    await expect(item).toHaveText('A10G · spot · $0.45/h');

    reachable = false;
    // Spot instances are polled at least every 5 s.
    await expect(item).toHaveText('GPU Guard: server unreachable', {
      timeout: 15000
    });
    await item.click();
    await expect(page.locator(`#${PANEL_ID} .jp-gpuguard-error`)).toContainText(
      'GPU Guard lost contact with the Jupyter server'
    );
  });

  test('the first detection shows a loading state', async ({ page }) => {
    await answer(page, {
      ...base,
      interruptible: null,
      price_per_hour: null,
      detected_at: null,
      detecting: true
    });
    await page.goto();
    await page.sidebar.openTab(PANEL_ID);
    await expect(
      page.locator(`#${PANEL_ID} .jp-gpuguard-loading`)
    ).toContainText('Detecting');
    await expect(page.locator('.jp-gpuguard-status')).toHaveText(
      'GPU Guard: detecting…'
    );
  });

  test('a local machine has no hourly price', async ({ page }) => {
    await answer(page, {
      ...base,
      provider: 'local',
      instance_type: null,
      gpu_name: null,
      gpu_count: 0,
      gpu_memory_gb: null,
      region: null,
      interruptible: false,
      price_per_hour: null,
      on_demand_price_per_hour: null,
      price_source: '',
      uptime_seconds: null,
      session_cost: null,
      session_cost_basis: '',
      detail: 'No cloud answered: this is a local machine.'
    });
    await page.goto();

    await expect(page.locator('.jp-gpuguard-status')).toHaveText(
      'no GPU · local'
    );
    await page.sidebar.openTab(PANEL_ID);
    const panel = page.locator(`#${PANEL_ID}`);
    await expect(panel.locator('.jp-gpuguard-provider')).toHaveText(
      'Local machine'
    );
    await expect(panel.locator('.jp-gpuguard-price')).toHaveText(
      'local machine, no hourly price'
    );
    await expect(panel.locator('.jp-gpuguard-badge')).toHaveText('On-demand');
    await expect(panel.locator('.jp-gpuguard-session-cost')).toHaveCount(0);
    await expect(panel.locator('.jp-gpuguard-spot-banner')).toHaveCount(0);
    await expect(panel).not.toContainText('$0');
  });

  test('an unknown lifecycle and price say why', async ({ page }) => {
    await answer(page, {
      ...base,
      provider: 'runpod',
      instance_type: null,
      interruptible: null,
      price_per_hour: null,
      on_demand_price_per_hour: null,
      price_source: '',
      session_cost: null,
      detail: 'No RunPod API key: set RUNPOD_API_KEY to see the price.'
    });
    await page.goto();

    await expect(page.locator('.jp-gpuguard-status')).toHaveText(
      'A10G · price unknown'
    );
    await page.sidebar.openTab(PANEL_ID);
    const panel = page.locator(`#${PANEL_ID}`);
    await expect(panel.locator('.jp-gpuguard-provider')).toHaveText('RunPod');
    await expect(panel.locator('.jp-gpuguard-badge')).toHaveText('Unknown');
    await expect(panel.locator('.jp-gpuguard-unknown-reason')).toContainText(
      'No RunPod API key'
    );
    await expect(panel.locator('.jp-gpuguard-price')).toHaveText(
      'price unknown'
    );
    await expect(panel.locator('.jp-gpuguard-spot-banner')).toHaveCount(0);
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
