import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * A failed call to our routes: the server's message, and its reason when it
 * gave one (each domain names the reasons its routes give).
 */
export class GpuGuardRequestError<Reason extends string = string>
  extends ServerConnection.ResponseError
{
  constructor(
    response: Response,
    message: string | undefined,
    readonly reason: Reason | null
  ) {
    super(response, message);
  }

  get status(): number {
    return this.response.status;
  }
}

/**
 * Call a route of the server extension.
 *
 * @param endPoint The route below `gpuguard/`
 * @param init Initial values for the request
 * @returns The response body read as JSON, or its text when it is not JSON
 */
export async function requestAPI(
  endPoint = '',
  init: RequestInit = {}
): Promise<unknown> {
  const settings = ServerConnection.makeSettings();
  const requestUrl = URLExt.join(settings.baseUrl, 'gpuguard', endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(requestUrl, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (e.g. an HTML 404 page): keep the text.
    }
  }

  if (!response.ok) {
    const fields = fieldsOf(data);
    throw new GpuGuardRequestError(
      response,
      textOf(fields.message) || undefined,
      textOf(fields.reason) || null
    );
  }
  return data;
}

/**
 * Call a route and read its answer with `read`.
 *
 * Every answer goes through a reader: an older or partial server may leave a
 * field out, and the views rely on each field having its type.
 */
export async function requestAnswer<T>(
  endPoint: string,
  read: (answer: unknown) => T,
  init: RequestInit = {}
): Promise<T> {
  return read(await requestAPI(endPoint, init));
}

/**
 * The fields of a JSON object; none when the value is not one.
 */
export function fieldsOf(value: unknown): Readonly<Record<string, unknown>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * A string, or `fallback`.
 */
export function textOf(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : fallback;
}

/**
 * A string, or null.
 */
export function textOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * A finite number, or `fallback`.
 */
export function numberOr<F extends number | null>(
  value: unknown,
  fallback: F
): number | F {
  return typeof value === 'number' && isFinite(value) ? value : fallback;
}

/**
 * A boolean, or null when unknown.
 */
export function booleanOrNull(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

/**
 * A list, or an empty one; `read` reads each item.
 */
export function listOf<T>(
  value: unknown,
  read: (item: unknown) => T = item => item as T
): T[] {
  return Array.isArray(value) ? value.map(read) : [];
}

/**
 * A list of strings, or an empty one; an item that is not a string reads as ''.
 */
export function textListOf(value: unknown): string[] {
  return listOf(value, item => textOf(item));
}

/**
 * A JSON object read by `read`, or null when the value is not one.
 */
export function objectOrNull<T>(
  value: unknown,
  read: (item: unknown) => T = item => item as T
): T | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? read(value)
    : null;
}
