import { InputDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { templateName } from './labels';
import { PodsModel } from './model';

/**
 * "Save as RunPod template": for pods started from RunPod's console, which
 * then start with the extension like pods launched from here.
 */
export function SaveTemplate(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const [saved, setSaved] = React.useState<{
    name: string;
    url: string;
  } | null>(null);
  const busy = model.busy?.kind === 'template';
  const save = async () => {
    const result = await InputDialog.getText({
      title: trans.__('Save as RunPod template'),
      label: trans.__(
        'Template name (one name per RunPod account). The template has this pod’s image and ports, the volume at /workspace, and the start command that installs jupyter-gpuguard.'
      ),
      text: templateName(model.defaults?.image),
      okLabel: trans.__('Save template')
    });
    const name = result.value?.trim();
    if (!result.button.accept || !name) {
      return;
    }
    setSaved(null);
    try {
      const answer = await model.saveTemplate(name);
      setSaved({ name: answer.template.name, url: answer.url });
    } catch {
      // the section shows the server's words
    }
  };
  return (
    <div className="jp-gpuguard-template">
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-gpuguard-template-button"
        disabled={busy}
        title={trans.__(
          'For pods you start from RunPod’s console, after a spot loss for instance: they start with the extension, and the restore prompt.'
        )}
        onClick={() => void save()}
      >
        {busy ? trans.__('Saving…') : trans.__('Save as RunPod template')}
      </button>
      {saved ? (
        <p
          className="jp-gpuguard-small jp-gpuguard-template-saved"
          role="status"
        >
          {trans.__(
            'Saved template %1. Deploy it from RunPod’s console with your network volume: the pod starts with the extension. ',
            saved.name
          )}
          <a href={saved.url} target="_blank" rel="noopener noreferrer">
            {trans.__('Your templates')}
          </a>
        </p>
      ) : null}
    </div>
  );
}
