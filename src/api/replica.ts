import {
  fieldsOf,
  numberOr,
  objectOrNull,
  requestAnswer,
  textOf,
  textOrNull
} from './request';

/**
 * Why the replica cannot be used, as the server classifies it.
 */
export interface IReplicaError {
  /**
   * E.g. "unreachable", "credentials", "no-bucket", "not-s3", "not-installed".
   */
  reason: string;
  message: string;
  /**
   * Unix time (seconds).
   */
  at: number | null;
}

/**
 * A transfer under way: an upload, or a download before a restore.
 */
export interface IReplicaTransfer {
  id: string;
  /**
   * Null until the first object landed.
   */
  bytes_left: number | null;
  started: number | null;
}

/**
 * The replica of the snapshot store on object storage (`GET gpuguard/replica`).
 */
export interface IReplicaStatus {
  configured: boolean;
  /**
   * "off", "connecting", "ok", "uploading" or "error".
   */
  state: string;
  url: string | null;
  endpoint: string | null;
  region: string | null;
  /**
   * "panel" or "setting".
   */
  source: string | null;
  /**
   * "panel" (keys typed in the panel) or "aws-chain".
   */
  credentials: string | null;
  error: IReplicaError | null;
  /**
   * Snapshots committed here and not yet on the replica.
   */
  pending: number;
  bytes_left: number;
  /**
   * How long the oldest of them has waited; 0 when the replica is up to date.
   */
  behind_seconds: number;
  uploading: IReplicaTransfer | null;
  last_upload: {
    id: string;
    at: number;
    bytes: number;
    lag_seconds: number | null;
  } | null;
  /**
   * Snapshots on the replica; null before the first listing.
   */
  snapshots: number | null;
  pulling: IReplicaTransfer | null;
}

/**
 * What the panel's replica form sends; the keys never come back.
 */
export interface IReplicaSettings {
  url: string;
  endpoint_url?: string;
  region?: string;
  access_key_id?: string;
  secret_access_key?: string;
}

export const NO_REPLICA: IReplicaStatus = readReplicaStatus({});

/**
 * Read the replica's status; anything missing reads as "no replica".
 */
export function readReplicaStatus(data: unknown): IReplicaStatus {
  const answer = fieldsOf(data);
  return {
    configured: answer.configured === true,
    state: textOf(answer.state, 'off'),
    url: textOrNull(answer.url),
    endpoint: textOrNull(answer.endpoint),
    region: textOrNull(answer.region),
    source: textOrNull(answer.source),
    credentials: textOrNull(answer.credentials),
    error: objectOrNull(answer.error, error => {
      const fields = fieldsOf(error);
      return {
        reason: textOf(fields.reason, 'replica'),
        message: textOf(fields.message),
        at: numberOr(fields.at, null)
      };
    }),
    pending: numberOr(answer.pending, 0),
    bytes_left: numberOr(answer.bytes_left, 0),
    behind_seconds: numberOr(answer.behind_seconds, 0),
    uploading: objectOrNull(answer.uploading, readTransfer),
    last_upload: objectOrNull(answer.last_upload, upload => {
      const fields = fieldsOf(upload);
      return {
        id: textOf(fields.id),
        at: numberOr(fields.at, 0),
        bytes: numberOr(fields.bytes, 0),
        lag_seconds: numberOr(fields.lag_seconds, null)
      };
    }),
    snapshots: numberOr(answer.snapshots, null),
    pulling: objectOrNull(answer.pulling, readTransfer)
  };
}

function readTransfer(data: unknown): IReplicaTransfer {
  const fields = fieldsOf(data);
  return {
    id: textOf(fields.id),
    bytes_left: numberOr(fields.bytes_left, null),
    started: numberOr(fields.started, null)
  };
}

/**
 * Use a replica; the server refuses (with the reason) one it cannot reach or write.
 */
export function setReplica(
  settings: IReplicaSettings
): Promise<IReplicaStatus> {
  return requestAnswer('replica', readReplicaStatus, {
    method: 'PUT',
    body: JSON.stringify(settings)
  });
}

/**
 * Forget the replica set from the panel (the configuration's, if any, is used again).
 */
export function forgetReplica(): Promise<IReplicaStatus> {
  return requestAnswer('replica', readReplicaStatus, { method: 'DELETE' });
}
