import {
  IDLE_POLL_INTERVAL,
  PodsModel,
  STARTING_POLL_INTERVAL
} from '../../pods/model';
import { fakePodsClient, launchDefaults, pod } from './fixtures';

/**
 * The interval the model polls at now (protected: read for the test).
 */
function intervalOf(model: PodsModel): number {
  return (model as unknown as { currentInterval(): number }).currentInterval();
}

describe('PodsModel', () => {
  it('asks for offers and pods only once a key is set', async () => {
    const client = fakePodsClient();
    client.fetchKey.mockResolvedValueOnce({
      configured: false,
      source: null,
      source_text: null
    });
    const model = new PodsModel({ client });
    await model.load();
    expect(model.key?.configured).toBe(false);
    expect(client.fetchGpuTypes).not.toHaveBeenCalled();
    expect(client.fetchPods).not.toHaveBeenCalled();
    model.dispose();
  });

  it('loads the offers, the defaults and the pods with a key', async () => {
    const client = fakePodsClient();
    const model = new PodsModel({ client });
    await model.load();
    expect(model.loading).toBe(false);
    expect(model.gpuTypes.map(t => t.name)).toEqual(['RTX A6000']);
    expect(model.defaults).toEqual(launchDefaults());
    expect(model.pods.map(p => p.id)).toEqual(['pod-1']);
    expect(model.balance).toBe(10);
    expect(model.error).toBeNull();
    model.dispose();
  });

  it('shows a failed load in the server words', async () => {
    const client = fakePodsClient();
    client.fetchGpuTypes.mockRejectedValueOnce(new Error('RunPod is down'));
    const model = new PodsModel({ client });
    await model.load();
    expect(model.error?.message).toBe('RunPod is down');
    expect(model.loading).toBe(false);
    model.dispose();
  });

  it('follows a launched pod and looks often while it starts', async () => {
    const client = fakePodsClient();
    const model = new PodsModel({ client });
    await model.load();
    expect(intervalOf(model)).toBe(IDLE_POLL_INTERVAL);

    const launched = await model.launch({
      name: 'on-demand',
      gpu_type_id: 'NVIDIA RTX A6000',
      gpu_count: 1,
      cloud_type: 'SECURE',
      image: 'runpod/pytorch:2.4',
      network_volume_id: null
    });
    expect(model.launched).toBe(launched);
    expect(model.pods[0].id).toBe('pod-2');
    expect(intervalOf(model)).toBe(STARTING_POLL_INTERVAL);

    // The next look at the list finds it running.
    client.fetchPods.mockResolvedValue({
      pods: [pod({ id: 'pod-2', status: 'running' }), pod()],
      balance: 9,
      this_pod: null
    });
    await model.refresh();
    expect(model.launched?.pod.status).toBe('running');
    expect(intervalOf(model)).toBe(IDLE_POLL_INTERVAL);
    model.dispose();
  });

  it('shows what it is doing, and the error of a failed operation', async () => {
    const client = fakePodsClient();
    const model = new PodsModel({ client });
    await model.load();
    let seen: string | undefined;
    client.stop.mockImplementationOnce(async (podId: string) => {
      seen = `${model.busy?.kind} ${model.busy?.podId}`;
      throw new Error('not allowed');
    });
    await expect(model.stop('pod-1')).rejects.toThrow('not allowed');
    expect(seen).toBe('stop pod-1');
    expect(model.busy).toBeNull();
    expect(model.error?.message).toBe('not allowed');
    model.dispose();
  });

  it('forgets the launched pod it terminates', async () => {
    const client = fakePodsClient();
    const model = new PodsModel({ client });
    await model.load();
    await model.launch({
      name: 'x',
      gpu_type_id: 'g',
      gpu_count: 1,
      cloud_type: 'SECURE',
      image: 'i',
      network_volume_id: null
    });
    await model.terminate('pod-2');
    expect(client.terminate).toHaveBeenCalledWith('pod-2');
    expect(model.launched).toBeNull();
    model.dispose();
  });

  it('keeps a failed look at the pod list as the error', async () => {
    const client = fakePodsClient();
    const model = new PodsModel({ client });
    await model.load();
    client.fetchPods.mockRejectedValueOnce(new Error('timeout'));
    await model.refresh();
    expect(model.error?.message).toBe('timeout');
    expect(model.pods.map(p => p.id)).toEqual(['pod-1']);
    model.dispose();
  });

  it('forgets the offers and pods with the key', async () => {
    const client = fakePodsClient();
    const model = new PodsModel({ client });
    await model.load();
    await model.forgetKey();
    expect(model.key?.configured).toBe(false);
    expect(model.pods).toEqual([]);
    expect(model.gpuTypes).toEqual([]);
    model.dispose();
  });
});
