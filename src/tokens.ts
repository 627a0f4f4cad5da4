import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { IInstanceInfo } from './api';

/**
 * Command ids of the extension.
 */
export namespace CommandIDs {
  export const openPanel = 'gpuguard:open-panel';
  export const refresh = 'gpuguard:refresh';
}

/**
 * Id of the GPU Guard side panel.
 */
export const PANEL_ID = 'gpuguard-panel';

/**
 * Id of the plugin that owns the settings in `schema/plugin.json`.
 */
export const SETTINGS_PLUGIN_ID = 'jupyter-gpuguard:plugin';

/**
 * What the instance model knows at a given time.
 */
export interface IInstanceState {
  /**
   * The last answer of the server, or null before the first one.
   */
  readonly info: IInstanceInfo | null;
  /**
   * `Date.now()` when `info` arrived; the session cost ticks from there.
   */
  readonly receivedAt: number;
  /**
   * Why the last request failed (server extension missing or broken), or null.
   */
  readonly error: string | null;
}

/**
 * The instance model: polls `gpuguard/instance` and tells when it changes.
 */
export interface IInstanceModel extends IInstanceState {
  /**
   * Emitted after each answer (or failure) that changes the state.
   */
  readonly changed: ISignal<IInstanceModel, void>;
  /**
   * Resolves once the first detection is over: an answer with
   * `detecting: false`, or a failure of the route.
   */
  readonly ready: Promise<void>;
  /**
   * The polling interval asked for in the settings, in seconds.
   */
  refreshInterval: number;
  /**
   * Ask the server again now.
   */
  refresh(): Promise<void>;
}

/**
 * The instance model token.
 */
export const IInstanceModel = new Token<IInstanceModel>(
  'jupyter-gpuguard:IInstanceModel',
  'What jupyter-gpuguard knows about the machine the server runs on.'
);
