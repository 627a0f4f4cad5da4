import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  forgetReplica,
  IReplicaSettings,
  IReplicaStatus,
  setReplica
} from '../api/replica';
import { describeError } from '../common/errors';
import { formatAgo, formatBytes, formatInterval } from '../common/format';

/**
 * What to do about a replica that fails, by the server's reason.
 */
export function replicaHint(
  reason: string,
  trans: TranslationBundle
): string | null {
  switch (reason) {
    case 'not-installed':
      return trans.__(
        "Install the S3 client where Jupyter runs: pip install 'jupyter-gpuguard[s3]', then restart Jupyter."
      );
    case 'no-credentials':
    case 'credentials':
      return trans.__(
        'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, an instance role, or type the keys below.'
      );
    case 'unreachable':
      return trans.__('Check the endpoint URL and the network.');
    case 'not-s3':
      return trans.__('The endpoint URL does not point to an S3 service.');
    default:
      return null;
  }
}

/**
 * The replica's line in the store section, e.g. "Replicated to s3://b/p, 12 s
 * behind", and its form.
 */
export function ReplicaSection(props: {
  replica: IReplicaStatus;
  persistent: boolean | null;
  now: number;
  onChanged: () => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { replica, persistent, now, onChanged, trans } = props;
  const [editing, setEditing] = React.useState(false);
  return (
    <div
      className="jp-gpuguard-replica"
      data-state={replica.configured ? replica.state : 'off'}
    >
      {replica.configured ? (
        <ReplicaState replica={replica} now={now} trans={trans} />
      ) : (
        <div className="jp-gpuguard-small jp-gpuguard-replica-off">
          {persistent === false
            ? trans.__(
                'No replica: keep snapshots on object storage (S3, Google Cloud Storage, R2, RunPod) so that they outlive this machine.'
              )
            : trans.__('No replica on object storage.')}
        </div>
      )}
      {!editing && (
        <div className="jp-gpuguard-replica-buttons">
          <button
            className="jp-Button jp-mod-styled jp-mod-reject jp-gpuguard-replica-edit"
            onClick={() => setEditing(true)}
          >
            {replica.configured
              ? trans.__('Change replica…')
              : trans.__('Add a replica…')}
          </button>
          {replica.source === 'panel' && (
            <button
              className="jp-Button jp-mod-styled jp-mod-reject jp-gpuguard-replica-forget"
              onClick={() => {
                void forgetReplica().then(onChanged, onChanged);
              }}
            >
              {trans.__('Stop using it')}
            </button>
          )}
        </div>
      )}
      {editing && (
        <ReplicaForm
          replica={replica}
          onDone={() => {
            setEditing(false);
            onChanged();
          }}
          onCancel={() => setEditing(false)}
          trans={trans}
        />
      )}
    </div>
  );
}

function ReplicaState(props: {
  replica: IReplicaStatus;
  now: number;
  trans: TranslationBundle;
}): JSX.Element {
  const { replica, now, trans } = props;
  const url = <code className="jp-gpuguard-replica-url">{replica.url}</code>;
  if (replica.state === 'error' && replica.error) {
    const hint = replicaHint(replica.error.reason, trans);
    return (
      <div className="jp-gpuguard-small jp-gpuguard-replica-error" role="alert">
        {trans.__('Replica')} {url}: {replica.error.message}
        {hint && <div className="jp-gpuguard-replica-hint">{hint}</div>}
        <div>
          {replica.pending > 0
            ? trans._n(
                '%1 snapshot waits on this disk until it works again.',
                '%1 snapshots wait on this disk until it works again.',
                replica.pending
              )
            : trans.__('The snapshots on this disk are kept.')}
        </div>
      </div>
    );
  }
  if (replica.state === 'connecting') {
    return (
      <div className="jp-gpuguard-small jp-gpuguard-replica-connecting">
        <span className="jp-gpuguard-spinner" aria-hidden="true" />{' '}
        {trans.__('Connecting to the replica')} {url}…
      </div>
    );
  }
  const behind = Math.round(replica.behind_seconds);
  const last = replica.last_upload;
  return (
    <div className="jp-gpuguard-small jp-gpuguard-replica-ok">
      <span className="jp-gpuguard-replica-line">
        {trans.__('Replicated to')} {url},{' '}
        {replica.pending > 0 ? (
          <span className="jp-gpuguard-replica-behind">
            {trans.__(
              '%1 behind, %2 left to upload',
              formatInterval(Math.max(behind, 1)),
              formatBytes(replica.bytes_left)
            )}
          </span>
        ) : (
          <span className="jp-gpuguard-replica-behind">
            {last && last.lag_seconds !== null
              ? trans.__(
                  'up to date (the last snapshot was %1 behind)',
                  formatInterval(Math.max(Math.round(last.lag_seconds), 1))
                )
              : trans.__('up to date')}
          </span>
        )}
      </span>
      {replica.uploading && replica.uploading.bytes_left !== null && (
        <div className="jp-gpuguard-replica-uploading">
          <span className="jp-gpuguard-spinner" aria-hidden="true" />{' '}
          {trans.__(
            'Uploading %1: %2 left',
            replica.uploading.id,
            formatBytes(replica.uploading.bytes_left)
          )}
        </div>
      )}
      {replica.pulling && (
        <div className="jp-gpuguard-replica-pulling">
          <span className="jp-gpuguard-spinner" aria-hidden="true" />{' '}
          {replica.pulling.bytes_left !== null
            ? trans.__(
                'Downloading %1 from the replica: %2 left',
                replica.pulling.id,
                formatBytes(replica.pulling.bytes_left)
              )
            : trans.__('Downloading %1 from the replica…', replica.pulling.id)}
        </div>
      )}
      {last && (
        <div className="jp-gpuguard-replica-last">
          {trans.__(
            'Last upload %1: %2',
            formatAgo(last.at * 1000, now, trans),
            formatBytes(last.bytes)
          )}
          {replica.snapshots !== null &&
            ' · ' +
              trans._n(
                '%1 snapshot there',
                '%1 snapshots there',
                replica.snapshots
              )}
        </div>
      )}
    </div>
  );
}

type FormFields = Required<IReplicaSettings>;

function ReplicaForm(props: {
  replica: IReplicaStatus;
  onDone: () => void;
  onCancel: () => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { replica, onDone, onCancel, trans } = props;
  const [fields, setFields] = React.useState<FormFields>({
    url: replica.url ?? '',
    endpoint_url: replica.source === 'panel' ? (replica.endpoint ?? '') : '',
    region: replica.region ?? '',
    access_key_id: '',
    secret_access_key: ''
  });
  const [error, setError] = React.useState<string | null>(null);
  const [checking, setChecking] = React.useState(false);
  const field = (
    name: keyof FormFields,
    label: string,
    placeholder: string,
    type = 'text'
  ): JSX.Element => (
    <label className="jp-gpuguard-field">
      <span className="jp-gpuguard-field-label">{label}</span>
      <input
        className="jp-mod-styled jp-gpuguard-replica-input"
        name={name}
        type={type}
        autoComplete="off"
        spellCheck={false}
        placeholder={placeholder}
        value={fields[name]}
        onChange={event =>
          setFields({ ...fields, [name]: event.currentTarget.value.trim() })
        }
      />
    </label>
  );
  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setChecking(true);
    setError(null);
    const settings: IReplicaSettings = { url: fields.url };
    for (const name of [
      'endpoint_url',
      'region',
      'access_key_id',
      'secret_access_key'
    ] as const) {
      if (fields[name]) {
        settings[name] = fields[name];
      }
    }
    try {
      await setReplica(settings);
      onDone();
    } catch (reason) {
      setError(describeError(reason));
    } finally {
      setChecking(false);
    }
  };
  return (
    <form
      className="jp-gpuguard-replica-form"
      onSubmit={event => void submit(event)}
    >
      {field('url', trans.__('Bucket'), 's3://bucket/prefix')}
      {field(
        'endpoint_url',
        trans.__('Endpoint (empty for AWS S3)'),
        'https://s3api-eu-ro-1.runpod.io'
      )}
      {field('region', trans.__('Region'), 'us-east-1')}
      {field('access_key_id', trans.__('Access key id'), trans.__('optional'))}
      {field(
        'secret_access_key',
        trans.__('Secret access key'),
        trans.__('optional'),
        'password'
      )}
      <p className="jp-gpuguard-small jp-gpuguard-replica-keys">
        {trans.__(
          'Without keys, the standard AWS chain is used (environment, ~/.aws, the instance role). Keys typed here stay on the server, readable only by you, and are never shown again.'
        )}
      </p>
      <p className="jp-gpuguard-small jp-gpuguard-replica-warning" role="note">
        {trans.__(
          'Restoring a snapshot runs code from it: anyone who can write to this bucket can run code in your kernels. Use a bucket only you can write to.'
        )}
      </p>
      {error && (
        <p className="jp-gpuguard-replica-form-error" role="alert">
          {error}
        </p>
      )}
      <div className="jp-gpuguard-replica-buttons">
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept jp-gpuguard-replica-save"
          disabled={checking || !fields.url}
        >
          {checking ? (
            <>
              <span className="jp-gpuguard-spinner" aria-hidden="true" />{' '}
              {trans.__('Checking…')}
            </>
          ) : (
            trans.__('Check and use')
          )}
        </button>
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-reject"
          onClick={onCancel}
        >
          {trans.__('Cancel')}
        </button>
      </div>
    </form>
  );
}
