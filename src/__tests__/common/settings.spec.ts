import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import { followSetting, SETTINGS_PLUGIN_ID } from '../../common/settings';

/**
 * A registry whose `jupyter-gpuguard:plugin` settings the test changes.
 */
function fakeRegistry(values: Record<string, unknown>) {
  const settings = {
    changed: new Signal<unknown, void>({}),
    get: (name: string) => ({ composite: values[name] })
  };
  const registry = {
    load: jest.fn(async (plugin: string) => settings)
  } as unknown as ISettingRegistry & { load: jest.Mock };
  return { registry, settings, values };
}

describe('followSetting', () => {
  it('applies the setting now and after each change', async () => {
    const { registry, settings, values } = fakeRegistry({ spotWarning: true });
    const applied: unknown[] = [];
    await followSetting(registry, 'spotWarning', value => applied.push(value));
    expect(registry.load).toHaveBeenCalledWith(SETTINGS_PLUGIN_ID);
    expect(applied).toEqual([true]);
    values.spotWarning = false;
    settings.changed.emit();
    expect(applied).toEqual([true, false]);
  });

  it('leaves the default without a registry', async () => {
    const apply = jest.fn();
    await followSetting(null, 'restorePrompt', apply);
    expect(apply).not.toHaveBeenCalled();
  });

  it('leaves the default, and says why, when the settings fail to load', async () => {
    const { registry } = fakeRegistry({});
    registry.load.mockRejectedValueOnce(new Error('schema missing'));
    const logged = jest.spyOn(console, 'error').mockImplementation(() => {});
    const apply = jest.fn();
    await expect(
      followSetting(registry, 'refreshInterval', apply)
    ).resolves.toBeUndefined();
    expect(apply).not.toHaveBeenCalled();
    expect(logged).toHaveBeenCalled();
    logged.mockRestore();
  });
});
