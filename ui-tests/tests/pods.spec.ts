import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

/**
 * Server 8888 (jupyter_server_test_config.py) talks to a RunPod GraphQL fake on
 * 127.0.0.1:18888 that accepts only this key; no key is set when the server starts.
 * The server pretends to run on the fake's spot pod galatapod1.
 */
const RUNPOD_KEY = 'rp_galata_key_0123456789';
const FAKE_RUNPOD = 'http://127.0.0.1:18888';
const PANEL_ID = 'gpuguard-panel';

test.describe('GPU Guard on-demand pods', () => {
  test('set a key, launch a pod from the form, follow it, terminate it', async ({
    page,
    request
  }) => {
    await page.sidebar.openTab(PANEL_ID);
    const section = page.locator(`#${PANEL_ID} .jp-gpuguard-pods-view`);
    await section.scrollIntoViewIfNeeded();

    // Start without a key, also when an earlier attempt left one.
    const forget = section.getByRole('button', { name: 'forget key' });
    const keyForm = section.locator('.jp-gpuguard-key-input');
    await expect(forget.or(keyForm)).toBeVisible();
    if (await forget.isVisible()) {
      await forget.click();
    }

    // Without a key the section says how to get one.
    await expect(section).toContainText('give GPU Guard a RunPod API key');
    const keyInput = section.locator('.jp-gpuguard-key-input');
    await keyInput.fill('rp_not_the_right_key');
    await section.locator('.jp-gpuguard-save-key').click();
    await expect(section.locator('.jp-gpuguard-pod-error')).toHaveText(
      'RunPod rejected this key; it was not saved.'
    );

    await keyInput.fill(RUNPOD_KEY);
    await section.locator('.jp-gpuguard-save-key').click();
    await expect(section.locator('.jp-gpuguard-key-summary')).toContainText(
      'set from the panel'
    );
    await expect(section.locator('.jp-gpuguard-balance')).toHaveText(
      'balance $25.00'
    );

    // On a pod, moving the session comes first and the form is folded.
    await expect(section.locator('.jp-gpuguard-move-button')).toBeVisible();
    await section.locator('.jp-gpuguard-launch > summary').click();

    // The form: GPU types with their prices, the cost drawn per hour and per day.
    const gpuType = section.locator('.jp-gpuguard-gpu-type');
    await expect(gpuType.locator('option')).toHaveCount(2);
    await gpuType.selectOption('NVIDIA RTX A6000');
    await expect(gpuType.locator('option:checked')).toContainText(
      'RTX A6000 · 48 GB · $0.76/h, spot $0.39'
    );
    await section.locator('.jp-gpuguard-gpu-count').fill('2');
    const volume = section.locator('.jp-gpuguard-volume');
    await expect(volume.locator('option:checked')).toHaveText(
      'notebooks · 100 GB · EU-RO-1 (this pod’s)'
    );
    await volume.selectOption('vol_abc123');
    await expect(section.locator('.jp-gpuguard-pod-volume')).toBeDisabled();
    await section.locator('.jp-gpuguard-container-disk').fill('40');
    await section.locator('.jp-gpuguard-jupyter-password').fill('pa"ss\\word');
    const name = `galata "quoted" ${Date.now().toString(36)}`;
    await section.locator('.jp-gpuguard-pod-name').fill(name);
    // The start command, folded away: install the extension, then /start.sh.
    const startCommand = section.locator('.jp-gpuguard-start-command');
    await expect(startCommand).toBeHidden();
    await section.locator('.jp-gpuguard-advanced > summary').click();
    await expect(startCommand).toHaveValue(
      /^bash -c '.*jupyter-gpuguard==.*exec \/start\.sh;.*'$/
    );
    const estimate = section.locator('.jp-gpuguard-cost-estimate');
    await expect(estimate).toContainText('$1.52/h · $36.48/day');
    await expect(estimate).toContainText('$0.78/h · $18.72/day');

    // Nothing launches before the confirmation.
    await section.locator('.jp-gpuguard-launch-button').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Launch an on-demand pod?');
    await expect(dialog).toContainText('2 × RTX A6000 in the secure cloud');
    await expect(dialog).toContainText('$1.52 per hour ($36.48 per day)');
    await expect(dialog).toContainText(
      'Network volume notebooks mounts at /workspace.'
    );
    await dialog.getByRole('button', { name: 'Launch' }).click();

    // The pod is listed while it starts, then links to its JupyterLab once it runs.
    const pod = section.locator('.jp-gpuguard-pod').filter({ hasText: name });
    await expect(pod).toHaveAttribute('data-status', 'starting');
    await expect(section.locator('.jp-gpuguard-launched')).toContainText(
      'is starting'
    );
    await expect(pod).toContainText('2 × RTX A6000 · on-demand · $1.520/h');
    const podId = await pod.getAttribute('data-pod-id');
    expect(podId).toBeTruthy();
    const made = await request.post(
      `${FAKE_RUNPOD}/__control/running/${podId}`
    );
    expect(made.ok()).toBeTruthy();
    await expect(pod).toHaveAttribute('data-status', 'running', {
      timeout: 15000
    });
    await expect(
      section.locator('.jp-gpuguard-launched .jp-gpuguard-pod-link')
    ).toHaveAttribute('href', `https://${podId}-8888.proxy.runpod.net`);

    const answer = await request.get(`${FAKE_RUNPOD}/__control/launched`);
    const launches = (await answer.json()) as Record<string, any>[];
    const sent = launches.find(l => l.name === name)!;
    expect(sent.containerDiskInGb).toBe(40);
    expect(sent.volumeInGb).toBe(0);
    expect(sent.env).toEqual([
      { key: 'JUPYTER_PASSWORD', value: 'pa"ss\\word' }
    ]);
    expect(sent.dockerArgs).toBe(await startCommand.inputValue());
    await section.locator('.jp-gpuguard-advanced > summary').click();

    // The picture in the README: the section with a pod just launched, the
    // other two sections folded so that it shows whole.
    await page.setViewportSize({ width: 1024, height: 1400 });
    await page.sidebar.setWidth(360);
    for (const title of ['Instance', 'Snapshots']) {
      await page
        .locator(`#${PANEL_ID} .jp-AccordionPanel-title`)
        .filter({ hasText: title })
        .click();
    }
    await section.evaluate(node => node.parentElement?.scrollTo(0, 0));
    await page.locator(`#${PANEL_ID}`).screenshot({
      path: path.resolve(__dirname, '..', '..', 'docs', 'pods.png')
    });

    // The key never reaches the page.
    expect(await page.content()).not.toContain(RUNPOD_KEY);

    // Terminate asks twice.
    await pod.locator('.jp-gpuguard-terminate').click();
    await expect(dialog).toContainText(`Terminate ${name}?`);
    await dialog.getByRole('button', { name: 'Terminate' }).click();
    await expect(dialog).toContainText(`Really terminate ${name}?`);
    await dialog.getByRole('button', { name: 'Terminate for good' }).click();
    await expect(pod).toHaveCount(0);
  });

  test('move this session to an on-demand pod like this one', async ({
    page,
    request
  }) => {
    const name = `move-${Date.now().toString(36)}.ipynb`;
    await page.notebook.createNew(name);
    await page.notebook.setCell(0, 'code', 'answer = 41');
    await page.notebook.runCell(0);

    await page.sidebar.openTab(PANEL_ID);
    const section = page.locator(`#${PANEL_ID} .jp-gpuguard-pods-view`);
    await section.scrollIntoViewIfNeeded();
    const keyInput = section.locator('.jp-gpuguard-key-input');
    const move = section.locator('.jp-gpuguard-move-button');
    await expect(keyInput.or(move)).toBeVisible();
    if (await keyInput.isVisible()) {
      await keyInput.fill(RUNPOD_KEY);
      await section.locator('.jp-gpuguard-save-key').click();
    }
    await expect(section).toContainText('This pod is spot');
    await move.click();

    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(
      'Move this session to an on-demand pod?'
    );
    await expect(dialog).toContainText(
      'an on-demand 1 × RTX A6000 starts with the same image and volume (notebooks), at about $0.76 per hour'
    );
    await dialog.getByRole('button', { name: 'Snapshot and launch' }).click();

    const launched = section.locator('.jp-gpuguard-launched');
    await expect(launched).toContainText(
      'Pod galata-spot on-demand is starting',
      { timeout: 30000 }
    );

    // The notebook's kernel was snapshotted before the launch.
    const history = page
      .locator(`#${PANEL_ID} .jp-gpuguard-notebook`)
      .filter({ has: page.getByText(name, { exact: true }) })
      .locator('.jp-gpuguard-history-row');
    await expect(history).toHaveCount(1, { timeout: 30000 });

    const answer = await request.get(`${FAKE_RUNPOD}/__control/launched`);
    const launches = (await answer.json()) as Record<string, any>[];
    const last = launches[launches.length - 1];
    expect(last.name).toBe('galata-spot on-demand');
    expect(last.gpuTypeId).toBe('NVIDIA RTX A6000');
    expect(last.networkVolumeId).toBe('vol_abc123');
    expect(last.volumeMountPath).toBe('/workspace');
    expect(last.dataCenterId).toBe('EU-RO-1');
    const env = Object.fromEntries(
      (last.env as { key: string; value: string }[]).map(e => [e.key, e.value])
    );
    expect(env['GPUGUARD_MOVED_FROM']).toBe('galatapod1');
    expect(env['JUPYTER_PASSWORD']).toBe('s3cret');
  });
});
