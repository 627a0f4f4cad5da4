import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { Field } from './Field';
import { PodsModel } from './model';
import { formatDollars } from './prices';

/**
 * Where RunPod's console makes API keys.
 */
export const RUNPOD_KEYS_URL = 'https://www.runpod.io/console/user/settings';

/**
 * The form that gives GPU Guard a RunPod API key.
 */
export function KeyForm(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const [key, setKey] = React.useState('');
  const busy = model.busy?.kind === 'key';
  return (
    <form
      className="jp-gpuguard-key-form"
      onSubmit={event => {
        event.preventDefault();
        void model
          .saveKey(key.trim())
          .then(() => setKey(''))
          .catch(() => undefined);
      }}
    >
      <p className="jp-gpuguard-small">
        {trans.__(
          'To launch on-demand pods from here, give GPU Guard a RunPod API key. Create one at '
        )}
        <a href={RUNPOD_KEYS_URL} target="_blank" rel="noopener noreferrer">
          {trans.__('RunPod → Settings → API Keys')}
        </a>
        {trans.__(
          ' (read and write). It is kept on the server, readable only by you, and never sent back to the browser. RUNPOD_API_KEY or a file named by c.GpuGuard.runpod_api_key_file work too.'
        )}
      </p>
      <Field label={trans.__('RunPod API key')}>
        <input
          className="jp-mod-styled jp-gpuguard-key-input"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={event => setKey(event.target.value)}
          placeholder="rpa_…"
        />
      </Field>
      <button
        type="submit"
        className="jp-Button jp-mod-styled jp-mod-accept jp-gpuguard-save-key"
        disabled={busy || key.trim().length < 8}
      >
        {busy ? trans.__('Checking…') : trans.__('Save key')}
      </button>
    </form>
  );
}

/**
 * Where the key comes from, the balance, and "forget key" for a key given
 * here.
 */
export function KeySummary(props: {
  model: PodsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const key = model.key!;
  return (
    <p className="jp-gpuguard-small jp-gpuguard-key-summary">
      {trans.__('RunPod key: %1', key.source_text ?? trans.__('set'))}
      {model.balance !== null ? (
        <>
          {' · '}
          <span className="jp-gpuguard-balance">
            {trans.__('balance %1', formatDollars(model.balance))}
          </span>
        </>
      ) : null}
      {key.source === 'panel' ? (
        <>
          {' · '}
          <button
            type="button"
            className="jp-gpuguard-link-button"
            onClick={() => void model.forgetKey().catch(() => undefined)}
          >
            {trans.__('forget key')}
          </button>
        </>
      ) : null}
    </p>
  );
}
