import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ReadonlyPartialJSONValue } from '@lumino/coreutils';

/**
 * Id of the plugin that owns the settings in `schema/plugin.json`.
 */
export const SETTINGS_PLUGIN_ID = 'jupyter-gpuguard:plugin';

/**
 * The settings in `schema/plugin.json`.
 */
export type GpuGuardSetting =
  'refreshInterval' | 'spotWarning' | 'restorePrompt';

/**
 * Apply a setting now and after each change.
 *
 * @returns Resolves once the setting is applied, or once it is clear that it
 * cannot be (no registry, or the settings failed to load): `apply` is then
 * never called and the caller's default stays.
 */
export async function followSetting(
  registry: ISettingRegistry | null,
  name: GpuGuardSetting,
  apply: (value: ReadonlyPartialJSONValue | undefined) => void
): Promise<void> {
  if (!registry) {
    return;
  }
  let settings: ISettingRegistry.ISettings;
  try {
    settings = await registry.load(SETTINGS_PLUGIN_ID);
  } catch (reason) {
    console.error('jupyter-gpuguard: failed to load settings', reason);
    return;
  }
  const update = () => apply(settings.get(name).composite);
  settings.changed.connect(update);
  update();
}
