import { LabIcon } from '@jupyterlab/ui-components';

import gpuguardSvgstr from '../style/icons/gpuguard.svg';

/**
 * A GPU chip with a shield.
 */
export const gpuguardIcon = new LabIcon({
  name: 'jupyter-gpuguard:gpuguard',
  svgstr: gpuguardSvgstr
});
