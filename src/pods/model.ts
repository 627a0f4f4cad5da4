import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  fetchGpuTypes,
  fetchLaunchDefaults,
  fetchPods,
  fetchRunPodKey,
  fetchVolumes,
  forgetRunPodKey,
  IGpuType,
  ILaunchDefaults,
  ILaunched,
  ILaunchRequest,
  MoveRequest,
  INetworkVolume,
  IPod,
  IRunPodKeyState,
  ISavedTemplateAnswer,
  launchPod,
  moveSession,
  PodRequestError,
  saveRunPodKey,
  saveTemplate,
  stopPod,
  terminatePod
} from '../api/pods';

/**
 * How often the pod list is refreshed while a pod is starting, and otherwise.
 */
const STARTING_POLL_MS = 3000;
const IDLE_POLL_MS = 60000;

/**
 * A long operation the section shows progress for.
 */
export interface IPodBusy {
  kind: 'launch' | 'move' | 'stop' | 'terminate' | 'key' | 'template';
  podId?: string;
  /**
   * What is happening now, for the progress line.
   */
  step: string;
  started: number;
}

/**
 * RunPod state for the "On-demand pod" section: key, offers, pods, operations.
 */
export class PodsModel {
  constructor() {
    this._poll = new Poll({
      factory: () => this._refreshPods(),
      frequency: {
        interval: IDLE_POLL_MS,
        backoff: true,
        max: 5 * IDLE_POLL_MS
      },
      standby: 'when-hidden',
      auto: false
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get key(): IRunPodKeyState | null {
    return this._key;
  }
  get gpuTypes(): IGpuType[] {
    return this._gpuTypes;
  }
  get volumes(): INetworkVolume[] {
    return this._volumes;
  }
  get defaults(): ILaunchDefaults | null {
    return this._defaults;
  }
  get pods(): IPod[] {
    return this._pods;
  }
  get balance(): number | null {
    return this._balance;
  }
  get thisPod(): string | null {
    return this._thisPod;
  }
  get loading(): boolean {
    return this._loading;
  }
  /**
   * Why the last load or operation failed, in the server's words.
   */
  get error(): PodRequestError | Error | null {
    return this._error;
  }
  get busy(): IPodBusy | null {
    return this._busy;
  }
  /**
   * The pod launched or moved to last, followed until it runs.
   */
  get launched(): ILaunched | null {
    return this._launched;
  }

  /**
   * Load everything: key state first; offers and pods only with a key.
   */
  async load(): Promise<void> {
    this._loading = true;
    this._error = null;
    this._changed.emit();
    try {
      this._key = await fetchRunPodKey();
      if (this._key.configured) {
        const [types, volumes, defaults] = await Promise.all([
          fetchGpuTypes(),
          fetchVolumes(),
          fetchLaunchDefaults()
        ]);
        this._gpuTypes = types;
        this._volumes = volumes;
        this._defaults = defaults;
        await this._refreshPods();
        void this._poll.start();
      }
    } catch (error) {
      this._error = error as Error;
    } finally {
      this._loading = false;
      this._changed.emit();
    }
  }

  async saveKey(key: string): Promise<IRunPodKeyState> {
    return this._run(
      { kind: 'key', step: 'checking the key with RunPod' },
      async () => {
        const state = await saveRunPodKey(key);
        this._key = state;
        await this.load();
        return state;
      }
    );
  }

  async forgetKey(): Promise<void> {
    await this._run({ kind: 'key', step: 'forgetting the key' }, async () => {
      this._key = await forgetRunPodKey();
      this._gpuTypes = [];
      this._volumes = [];
      this._pods = [];
      this._poll.stop();
    });
  }

  async launch(request: ILaunchRequest): Promise<ILaunched> {
    return this._run(
      { kind: 'launch', step: 'asking RunPod for a machine' },
      async () => {
        const launched = await launchPod(request);
        this._follow(launched);
        return launched;
      }
    );
  }

  async moveSession(request: MoveRequest): Promise<ILaunched> {
    return this._run(
      { kind: 'move', step: 'snapshotting every kernel, then launching' },
      async () => {
        const launched = await moveSession(request);
        this._follow(launched);
        return launched;
      }
    );
  }

  /**
   * Save a RunPod template like this pod, for pods started from RunPod's console.
   */
  async saveTemplate(name: string): Promise<ISavedTemplateAnswer> {
    return this._run({ kind: 'template', step: 'saving the template' }, () =>
      saveTemplate(name)
    );
  }

  async stop(podId: string): Promise<void> {
    await this._run({ kind: 'stop', podId, step: 'stopping' }, async () => {
      await stopPod(podId);
      await this._refreshPods();
    });
  }

  async terminate(podId: string): Promise<void> {
    await this._run(
      { kind: 'terminate', podId, step: 'terminating' },
      async () => {
        await terminatePod(podId);
        if (this._launched?.pod.id === podId) {
          this._launched = null;
        }
        await this._refreshPods();
      }
    );
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _follow(launched: ILaunched): void {
    this._launched = launched;
    this._pods = [
      launched.pod,
      ...this._pods.filter(p => p.id !== launched.pod.id)
    ];
    void this._poll.refresh();
  }

  private async _run<T>(
    busy: Omit<IPodBusy, 'started'>,
    work: () => Promise<T>
  ): Promise<T> {
    this._busy = { ...busy, started: Date.now() };
    this._error = null;
    this._changed.emit();
    try {
      return await work();
    } catch (error) {
      this._error = error as Error;
      throw error;
    } finally {
      this._busy = null;
      this._changed.emit();
    }
  }

  private async _refreshPods(): Promise<void> {
    if (!this._key?.configured) {
      return;
    }
    try {
      const list = await fetchPods();
      this._pods = list.pods;
      this._balance = list.balance;
      this._thisPod = list.this_pod;
      if (this._launched) {
        const fresh = list.pods.find(p => p.id === this._launched?.pod.id);
        if (fresh) {
          this._launched = { ...this._launched, pod: fresh };
        }
      }
    } catch (error) {
      this._error = error as Error;
    }
    const starting = this._pods.some(p => p.status === 'starting');
    this._poll.frequency = {
      ...this._poll.frequency,
      interval: starting ? STARTING_POLL_MS : IDLE_POLL_MS
    };
    this._changed.emit();
  }

  private _balance: number | null = null;
  private _busy: IPodBusy | null = null;
  private _changed = new Signal<this, void>(this);
  private _defaults: ILaunchDefaults | null = null;
  private _error: PodRequestError | Error | null = null;
  private _gpuTypes: IGpuType[] = [];
  private _key: IRunPodKeyState | null = null;
  private _launched: ILaunched | null = null;
  private _loading = false;
  private _poll: Poll;
  private _pods: IPod[] = [];
  private _thisPod: string | null = null;
  private _volumes: INetworkVolume[] = [];
}
