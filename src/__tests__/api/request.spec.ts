import { ServerConnection } from '@jupyterlab/services';

import {
  booleanOrNull,
  fieldsOf,
  GpuGuardRequestError,
  listOf,
  numberOr,
  objectOrNull,
  requestAnswer,
  requestAPI,
  textListOf,
  textOf,
  textOrNull
} from '../../api/request';

async function failure(endPoint: string): Promise<GpuGuardRequestError> {
  const error: unknown = await requestAPI(endPoint).catch(e => e);
  if (!(error instanceof GpuGuardRequestError)) {
    throw new Error(`expected a GpuGuardRequestError, got ${error}`);
  }
  return error;
}

function answerWith(body: string, status = 200): jest.SpyInstance {
  return jest
    .spyOn(ServerConnection, 'makeRequest')
    .mockResolvedValue(new Response(body, { status }));
}

describe('requestAPI', () => {
  afterEach(() => jest.restoreAllMocks());

  it('asks below gpuguard/ and reads JSON', async () => {
    const request = answerWith('{"provider": "local"}');
    await expect(requestAPI('instance')).resolves.toEqual({
      provider: 'local'
    });
    expect(request.mock.calls[0][0]).toMatch(/\/gpuguard\/instance$/);
  });

  it('keeps a body that is not JSON as text', async () => {
    answerWith('<html>hello</html>');
    await expect(requestAPI('instance')).resolves.toBe('<html>hello</html>');
  });

  it('throws the server message and reason of a failure', async () => {
    answerWith('{"message": "no GPU of that type", "reason": "no-gpus"}', 409);
    const error = await failure('runpod/pods');
    expect(error.status).toBe(409);
    expect(error.message).toBe('no GPU of that type');
    expect(error.reason).toBe('no-gpus');
  });

  it('throws a failure without a reason when the body gives none', async () => {
    answerWith('<html>Not Found</html>', 404);
    const error = await failure('runpod/pods');
    expect(error.status).toBe(404);
    expect(error.reason).toBeNull();
  });

  it('turns a failed connection into a network error', async () => {
    jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockRejectedValue(new TypeError('Failed to fetch'));
    await expect(requestAPI('status')).rejects.toBeInstanceOf(
      ServerConnection.NetworkError
    );
  });

  it('reads every answer with the reader it is given', async () => {
    answerWith('[1, 2]');
    await expect(
      requestAnswer('snapshots', answer => listOf<number>(answer).length)
    ).resolves.toBe(2);
  });
});

describe('field readers', () => {
  it('read only JSON objects as fields', () => {
    expect(fieldsOf({ a: 1 })).toEqual({ a: 1 });
    expect(fieldsOf([1])).toEqual({});
    expect(fieldsOf('text')).toEqual({});
    expect(fieldsOf(null)).toEqual({});
  });

  it('read a field of the wrong type as missing', () => {
    expect(textOf(3)).toBe('');
    expect(textOf(undefined, 'fallback')).toBe('fallback');
    expect(textOrNull(3)).toBeNull();
    expect(textOrNull('a')).toBe('a');
    expect(numberOr('3', 0)).toBe(0);
    expect(numberOr(Infinity, null)).toBeNull();
    expect(numberOr(2.5, null)).toBe(2.5);
    expect(booleanOrNull('true')).toBeNull();
    expect(booleanOrNull(false)).toBe(false);
  });

  it('read lists and objects item by item', () => {
    expect(listOf('a')).toEqual([]);
    expect(listOf([1, 2], item => (item as number) * 2)).toEqual([2, 4]);
    expect(textListOf(['a', 3])).toEqual(['a', '']);
    expect(objectOrNull([1])).toBeNull();
    expect(objectOrNull({ a: 1 }, item => fieldsOf(item).a)).toBe(1);
  });
});
