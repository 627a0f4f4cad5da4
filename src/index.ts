import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gpuguard:plugin',
  description: 'Notebook-safe GPU sessions.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    console.log('jupyter-gpuguard activated');
  }
};

export default plugin;
