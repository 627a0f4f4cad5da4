import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

/**
 * The gettext domain of the extension's strings.
 */
export const TRANSLATION_DOMAIN = 'jupyter_gpuguard';

/**
 * The extension's strings in the user's language; English without a
 * translator.
 */
export function loadTranslation(
  translator?: ITranslator | null
): TranslationBundle {
  return (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
}
