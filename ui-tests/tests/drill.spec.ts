import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * Machine B of the lost-machine drill (drill_machines.py): a fresh environment with
 * JupyterLab only, which installed jupyter-gpuguard from the volume's wheelhouse after
 * machine A was SIGKILLed. Opening the notebook must offer the snapshot A took, under
 * another server root, and one click must bring the values back.
 */

const STATE = path.join(os.tmpdir(), 'gpuguard-drill');

test.use({ baseURL: 'http://localhost:8892' });

test('a new machine restores the notebook with nothing set up by hand', async ({
  page
}) => {
  const drill = JSON.parse(
    fs.readFileSync(path.join(STATE, 'drill.json'), 'utf-8')
  );
  // The notebook lies at the server's root, outside the test's own folder.
  await page.evaluate(async (notebook: string) => {
    await window.jupyterapp.commands.execute('docmanager:open', {
      path: notebook
    });
  }, drill.notebook);
  await page.notebook.activate(drill.notebook);

  const prompt = page.locator('.jp-gpuguard-restore-dialog');
  await expect(prompt).toBeVisible({ timeout: 60000 });
  await expect(prompt).toContainText('Restore');
  await expect(prompt.locator('.jp-gpuguard-variable-names')).toContainText(
    'best'
  );
  await prompt.getByRole('button', { name: 'Restore', exact: true }).click();

  const report = page.locator('.jp-gpuguard-report-dialog');
  await expect(report).toBeVisible({ timeout: 60000 });
  await expect(report).toContainText('Restored');
  await report.getByRole('button', { name: 'Close' }).click();

  const index = await page.notebook.getCellCount();
  await page.notebook.addCell('code', drill.check);
  await page.notebook.runCell(index);
  expect(await page.notebook.getCellTextOutput(index)).toEqual([
    'True True main 10240000\n'
  ]);
  const backAfter = Date.now() / 1000 - drill.b_server_started;
  const result = { ...drill, values_back_s: backAfter };
  fs.writeFileSync(
    path.join(STATE, 'result.json'),
    JSON.stringify(result, null, 1)
  );
  console.log(`drill: ${JSON.stringify(result)}`);
});
