import { nullTranslator } from '@jupyterlab/translation';

import { gpuTypeLabel, podStatusText, templateName } from '../../pods/labels';
import { gpuType, pod } from './fixtures';

const trans = nullTranslator.load('jupyter_gpuguard');

describe('pod labels', () => {
  it('offers a GPU type with memory, prices and stock', () => {
    expect(gpuTypeLabel(gpuType(), trans)).toBe(
      'RTX A6000 · 48 GB · $0.49/h, spot $0.25 · high'
    );
    expect(
      gpuTypeLabel(
        gpuType({
          memory_gb: null,
          secure_price: null,
          community_price: null,
          secure_spot_price: null,
          stock: null
        }),
        trans
      )
    ).toBe('RTX A6000 · no price');
  });

  it('names pod states, and passes unknown ones through', () => {
    expect(podStatusText(pod({ status: 'starting' }), trans)).toBe('starting');
    expect(podStatusText(pod({ status: 'EXITED' }), trans)).toBe('EXITED');
  });

  it('makes a template name RunPod accepts from an image', () => {
    expect(templateName('runpod/pytorch:2.4.0-py3.11')).toBe(
      'gpuguard-pytorch-2.4.0-py3.11'
    );
    expect(templateName('ghcr.io/me/lab:')).toBe('gpuguard-lab');
    expect(templateName(undefined)).toBe('gpuguard');
    expect(templateName('://')).toBe('gpuguard');
  });
});
