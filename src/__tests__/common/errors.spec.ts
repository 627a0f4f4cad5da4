import { ServerConnection } from '@jupyterlab/services';

import { describeError } from '../../common/errors';

describe('describeError', () => {
  it('names the status and the server message', () => {
    const response = new Response('', { status: 503, statusText: 'Busy' });
    const error = new ServerConnection.ResponseError(
      response,
      'the store is locked'
    );
    expect(describeError(error)).toBe('503 Busy: the store is locked');
  });

  it('does not repeat a default message that names the status', () => {
    const response = new Response('', { status: 404, statusText: 'Not Found' });
    const error = new ServerConnection.ResponseError(response);
    expect(describeError(error)).toBe('404 Not Found');
  });

  it('gives the message of other errors', () => {
    expect(describeError(new TypeError('Failed to fetch'))).toBe(
      'Failed to fetch'
    );
  });

  it('gives anything else as text', () => {
    expect(describeError('timeout')).toBe('timeout');
    expect(describeError(undefined)).toBe('undefined');
  });
});
