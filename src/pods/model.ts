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
  INetworkVolume,
  IPod,
  IPodList,
  IRunPodKeyState,
  ISavedTemplateAnswer,
  launchPod,
  MoveRequest,
  moveSession,
  PodRequestError,
  saveRunPodKey,
  saveTemplate,
  stopPod,
  terminatePod
} from '../api/pods';
import { PolledModel } from '../common/polledModel';

/**
 * Seconds between two looks at the pod list while a pod is starting, so that
 * its link shows soon after it runs.
 */
export const STARTING_POLL_INTERVAL = 3;

/**
 * Seconds between two looks at the pod list otherwise: pods change from here,
 * or slowly from RunPod's console.
 */
export const IDLE_POLL_INTERVAL = 60;

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
 * The functions the model calls; the REST client by default.
 */
export interface IPodsClient {
  fetchKey(): Promise<IRunPodKeyState>;
  saveKey(key: string): Promise<IRunPodKeyState>;
  forgetKey(): Promise<IRunPodKeyState>;
  fetchGpuTypes(): Promise<IGpuType[]>;
  fetchVolumes(): Promise<INetworkVolume[]>;
  fetchLaunchDefaults(): Promise<ILaunchDefaults>;
  fetchPods(): Promise<IPodList>;
  launch(request: ILaunchRequest): Promise<ILaunched>;
  moveSession(request: MoveRequest): Promise<ILaunched>;
  saveTemplate(name: string): Promise<ISavedTemplateAnswer>;
  stop(podId: string): Promise<void>;
  terminate(podId: string): Promise<void>;
}

const restClient: IPodsClient = {
  fetchKey: fetchRunPodKey,
  saveKey: saveRunPodKey,
  forgetKey: forgetRunPodKey,
  fetchGpuTypes,
  fetchVolumes,
  fetchLaunchDefaults,
  fetchPods,
  launch: launchPod,
  moveSession,
  saveTemplate,
  stop: stopPod,
  terminate: terminatePod
};

/**
 * RunPod state for the "On-demand pod" section: key, offers, pods, operations.
 *
 * The pod list is polled once a key is set. A failed look at it shows in
 * `error` like a failed operation, and the next look comes at the usual
 * interval: the list is not worth backing off for.
 */
export class PodsModel extends PolledModel {
  constructor(options: PodsModel.IOptions = {}) {
    super({
      name: 'jupyter-gpuguard:pods',
      interval: IDLE_POLL_INTERVAL,
      auto: false
    });
    this._client = options.client ?? restClient;
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
    this.emitChanged();
    try {
      this._key = await this._client.fetchKey();
      if (this._key.configured) {
        const [types, volumes, defaults] = await Promise.all([
          this._client.fetchGpuTypes(),
          this._client.fetchVolumes(),
          this._client.fetchLaunchDefaults()
        ]);
        this._gpuTypes = types;
        this._volumes = volumes;
        this._defaults = defaults;
        await this.poll();
        this.startPolling();
      }
    } catch (error) {
      this._error = error as Error;
    } finally {
      this._loading = false;
      this.emitChanged();
    }
  }

  async saveKey(key: string): Promise<IRunPodKeyState> {
    return this._run(
      { kind: 'key', step: 'checking the key with RunPod' },
      async () => {
        const state = await this._client.saveKey(key);
        this._key = state;
        await this.load();
        return state;
      }
    );
  }

  async forgetKey(): Promise<void> {
    await this._run({ kind: 'key', step: 'forgetting the key' }, async () => {
      this._key = await this._client.forgetKey();
      this._gpuTypes = [];
      this._volumes = [];
      this._pods = [];
      this.stopPolling();
    });
  }

  async launch(request: ILaunchRequest): Promise<ILaunched> {
    return this._run(
      { kind: 'launch', step: 'asking RunPod for a machine' },
      async () => {
        const launched = await this._client.launch(request);
        this._follow(launched);
        return launched;
      }
    );
  }

  async moveSession(request: MoveRequest): Promise<ILaunched> {
    return this._run(
      { kind: 'move', step: 'snapshotting every kernel, then launching' },
      async () => {
        const launched = await this._client.moveSession(request);
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
      this._client.saveTemplate(name)
    );
  }

  async stop(podId: string): Promise<void> {
    await this._run({ kind: 'stop', podId, step: 'stopping' }, async () => {
      await this._client.stop(podId);
      await this.poll();
    });
  }

  async terminate(podId: string): Promise<void> {
    await this._run(
      { kind: 'terminate', podId, step: 'terminating' },
      async () => {
        await this._client.terminate(podId);
        if (this._launched?.pod.id === podId) {
          this._launched = null;
        }
        await this.poll();
      }
    );
  }

  /**
   * Look at the pod list; never rejects (see the class comment).
   */
  protected async poll(): Promise<void> {
    if (!this._key?.configured) {
      return;
    }
    try {
      const list = await this._client.fetchPods();
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
    this.updateFrequency();
    this.emitChanged();
  }

  protected currentInterval(): number {
    return this._pods.some(p => p.status === 'starting')
      ? STARTING_POLL_INTERVAL
      : IDLE_POLL_INTERVAL;
  }

  private _follow(launched: ILaunched): void {
    this._launched = launched;
    this._pods = [
      launched.pod,
      ...this._pods.filter(p => p.id !== launched.pod.id)
    ];
    this.pollNow();
  }

  private async _run<T>(
    busy: Omit<IPodBusy, 'started'>,
    work: () => Promise<T>
  ): Promise<T> {
    this._busy = { ...busy, started: Date.now() };
    this._error = null;
    this.emitChanged();
    try {
      return await work();
    } catch (error) {
      this._error = error as Error;
      throw error;
    } finally {
      this._busy = null;
      this.emitChanged();
    }
  }

  private _balance: number | null = null;
  private _busy: IPodBusy | null = null;
  private _client: IPodsClient;
  private _defaults: ILaunchDefaults | null = null;
  private _error: PodRequestError | Error | null = null;
  private _gpuTypes: IGpuType[] = [];
  private _key: IRunPodKeyState | null = null;
  private _launched: ILaunched | null = null;
  private _loading = false;
  private _pods: IPod[] = [];
  private _thisPod: string | null = null;
  private _volumes: INetworkVolume[] = [];
}

export namespace PodsModel {
  export interface IOptions {
    /**
     * How to ask the server; the REST routes by default.
     */
    client?: IPodsClient;
  }
}
