import {
  canLaunch,
  changeLaunchForm,
  initialLaunchForm,
  launchRequest,
  numberInput
} from '../../pods/launchFormState';
import { gpuType, launchDefaults } from './fixtures';

describe('the launch form', () => {
  it('opens like this pod where the server could tell', () => {
    const form = initialLaunchForm(launchDefaults({ gpu_count: 2 }), []);
    expect(form).toMatchObject({
      gpuTypeId: 'NVIDIA RTX A6000',
      gpuCount: 2,
      cloud: 'SECURE',
      volumeId: 'vol-1',
      image: 'runpod/pytorch:2.4',
      name: 'on-demand',
      password: '',
      startCommand: 'bash /workspace/.gpuguard/start.sh'
    });
  });

  it('offers the first GPU type without defaults', () => {
    const form = initialLaunchForm(null, [gpuType({ id: 'first' })]);
    expect(form.gpuTypeId).toBe('first');
    expect(form.name).toBe('on-demand');
    expect(form.volumeId).toBe('');
  });

  it('changes one field at a time', () => {
    const form = initialLaunchForm(launchDefaults(), []);
    const changed = changeLaunchForm(form, { field: 'gpuCount', value: 4 });
    expect(changed.gpuCount).toBe(4);
    expect(changed).toEqual({ ...form, gpuCount: 4 });
    expect(form.gpuCount).toBe(1);
  });

  it('reads a number field no smaller than its minimum', () => {
    expect(numberInput('3', 1)).toBe(3);
    expect(numberInput('', 1)).toBe(1);
    expect(numberInput('-2', 0)).toBe(0);
    expect(numberInput('abc', 0)).toBe(0);
  });

  it('needs a GPU type, a name and an image', () => {
    const form = initialLaunchForm(launchDefaults(), []);
    expect(canLaunch(form)).toBe(true);
    expect(canLaunch({ ...form, name: '  ' })).toBe(false);
    expect(canLaunch({ ...form, image: '' })).toBe(false);
    expect(canLaunch({ ...form, gpuTypeId: '' })).toBe(false);
  });
});

describe('launchRequest', () => {
  const defaults = launchDefaults();
  const defaultStart = defaults.start_command;
  const form = initialLaunchForm(defaults, []);

  it('gives a pod with a network volume no volume of its own', () => {
    const request = launchRequest(form, defaultStart);
    expect(request.network_volume_id).toBe('vol-1');
    expect(request.volume_gb).toBe(0);
    const alone = launchRequest({ ...form, volumeId: '' }, defaultStart);
    expect(alone.network_volume_id).toBeNull();
    expect(alone.volume_gb).toBe(20);
  });

  it('sends a start command only when it was changed', () => {
    expect(launchRequest(form, defaultStart)).not.toHaveProperty(
      'start_command'
    );
    expect(
      launchRequest({ ...form, startCommand: '   ' }, defaultStart)
    ).not.toHaveProperty('start_command');
    expect(
      launchRequest({ ...form, startCommand: 'sleep infinity' }, defaultStart)
        .start_command
    ).toBe('sleep infinity');
  });

  it('passes the password only when there is one, and trims the names', () => {
    expect(launchRequest(form, defaultStart).env).toEqual({});
    const request = launchRequest(
      { ...form, password: 'secret', name: ' mine ', image: ' img ' },
      defaultStart
    );
    expect(request.env).toEqual({ JUPYTER_PASSWORD: 'secret' });
    expect(request.name).toBe('mine');
    expect(request.image).toBe('img');
  });
});
