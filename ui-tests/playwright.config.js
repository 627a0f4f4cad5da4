/**
 * Configuration for Playwright using default from @jupyterlab/galata
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

module.exports = {
  ...baseConfig,
  reporter: [['list'], ['html', { open: 'never' }]],
  retries: process.env.CI ? 1 : 0,
  use: {
    ...baseConfig.use,
    launchOptions: {
      // Debian's Chromium: Playwright never downloads a browser here.
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    },
    video: 'off',
    trace: 'off'
  },
  // One JupyterLab per machine under test; tests pick theirs with test.use({ baseURL }).
  // The drill's machine B comes up only after machine A worked, died, and B installed
  // the extension from the wheelhouse A left on the volume (drill_machines.py).
  // The idle machine is the only one whose idle stop is on (idle.spec.ts).
  // An S3 service for the replica: moto's, on loopback.
  webServer: [
    ['start', 8888, 120],
    ['start:aws', 8889, 120],
    ['start:local', 8890, 120],
    ['start:no-server-extension', 8891, 120],
    ['start:drill', 8892, 600],
    ['start:idle', 8893, 120],
    ['start:s3', 8894, 60, '/moto-api/']
  ].map(([script, port, seconds, path]) => ({
    command: `jlpm ${script}`,
    url: `http://localhost:${port}${path ?? '/lab'}`,
    timeout: seconds * 1000,
    reuseExistingServer: !process.env.CI
  }))
};
