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
  webServer: [
    ['start', 8888],
    ['start:aws', 8889],
    ['start:local', 8890],
    ['start:no-server-extension', 8891]
  ].map(([script, port]) => ({
    command: `jlpm ${script}`,
    url: `http://localhost:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  }))
};
