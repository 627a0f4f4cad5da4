/**
 * A short text for a failed request.
 */
export function describeError(reason: unknown): string {
  if (reason && typeof reason === 'object') {
    const response = (reason as { response?: Response }).response;
    const message = (reason as { message?: string }).message ?? '';
    if (response && typeof response.status === 'number') {
      const status = `${response.status} ${response.statusText || ''}`.trim();
      // ResponseError messages default to "Invalid response: 404 Not Found".
      return message && !message.includes(String(response.status))
        ? `${status}: ${message}`
        : status;
    }
    if (message) {
      return message;
    }
  }
  return String(reason);
}
