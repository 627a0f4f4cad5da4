import { LabIcon } from '@jupyterlab/ui-components';

import gpuguardSvgstr from '../../style/icons/gpuguard.svg';
import snapshotSvgstr from '../../style/icons/snapshot.svg';

/**
 * A GPU chip with a shield.
 */
export const gpuguardIcon = new LabIcon({
  name: 'jupyter-gpuguard:gpuguard',
  svgstr: gpuguardSvgstr
});

/**
 * A camera: a snapshot of the kernel's variables.
 */
export const snapshotIcon = new LabIcon({
  name: 'jupyter-gpuguard:snapshot',
  svgstr: snapshotSvgstr
});
