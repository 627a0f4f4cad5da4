"""Each way a replica fails gives its own error, quickly, with a reason for the panel and
never the credentials; the local snapshots stay as they were."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.replica import (
    Credentials,
    Replica,
    ReplicaBucketMissing,
    ReplicaConfigError,
    ReplicaCredentialsRefused,
    ReplicaError,
    ReplicaNoCredentials,
    ReplicaNotInstalled,
    ReplicaNotS3,
    ReplicaPermissionDenied,
    ReplicaSnapshotMissing,
    ReplicaUnreachable,
    Timeouts,
)
from jupyter_gpuguard.snapshot.replica.client import profile_settings
from tests.fakes.server import closed_port_url
from tests.helpers.s3_server import (
    KEYS,
    S3Server,
    moto_server,
    silent_server,
    web_server,
)

pytest_plugins = ["tests.helpers.s3_server"]  # its fixtures: s3, clean_aws, aws_keys
pytest.importorskip("obstore")
pytest.importorskip("boto3")

FAST = Timeouts(connect=1.0, request=2.0, retries=1, total=4.0)
QUICK = 10.0  # seconds: no failure takes longer, retries included


@pytest.fixture
def snapshot(tmp_path) -> tuple[Store, str]:
    store = Store(tmp_path / "store")
    return store, store.save({"x": list(range(1000))}, notebook="n.ipynb").id


def attempts(replica: Replica, store: Store, snapshot_id: str) -> dict[str, Callable[[], object]]:
    empty = Store(store.path.parent / "empty")
    return {
        "check": replica.check,
        "ids": replica.ids,
        "upload": lambda: replica.upload(store, snapshot_id),
        "pull": lambda: empty and replica.pull(empty, snapshot_id),
        "prune": lambda: replica.prune(keep=3),
    }


def assert_fails(
    replica: Replica, snapshot: tuple[Store, str], error: type[ReplicaError], *secrets: str
) -> None:
    store, snapshot_id = snapshot
    for name, attempt in attempts(replica, store, snapshot_id).items():
        started = time.monotonic()
        with pytest.raises(error) as caught:
            attempt()
        took = time.monotonic() - started
        assert took < QUICK, f"{name} took {took:.1f} s"
        text = f"{caught.value} {caught.value!r}"
        assert caught.value.reason == error.reason
        for secret in secrets:
            assert secret not in text, name
        # the client's own error, which quotes answers, is not chained on for a log to show
        failure = caught.value
        assert failure.__cause__ is None, name
        assert failure.__context__ is None or failure.__suppress_context__, name
        print(f"{name}: {error.__name__} in {took:.2f} s: {caught.value}")
    # the local snapshot is untouched
    assert [info.id for info in store.list()] == [snapshot_id]
    assert store.verify().ok


def test_an_unreachable_endpoint(aws_keys, snapshot) -> None:
    replica = Replica("s3://bucket-a/x", endpoint_url=closed_port_url(), timeouts=FAST)
    assert_fails(replica, snapshot, ReplicaUnreachable)


def test_an_endpoint_that_never_answers(aws_keys, snapshot) -> None:
    with silent_server() as url:
        hurried = Timeouts(connect=1.0, request=1.0, retries=1, total=3.0)
        replica = Replica("s3://bucket-a/x", endpoint_url=url, timeouts=hurried)
        assert_fails(replica, snapshot, ReplicaUnreachable)


@pytest.mark.parametrize("status", [200, 404])
def test_an_endpoint_that_answers_web_pages(aws_keys, snapshot, status) -> None:
    with web_server(status) as url:
        replica = Replica("s3://bucket-a/x", endpoint_url=url, timeouts=FAST)
        assert_fails(replica, snapshot, ReplicaNotS3)


def test_a_missing_bucket(s3, aws_keys, snapshot) -> None:
    replica = Replica("s3://no-such-bucket/x", endpoint_url=s3.url, timeouts=FAST)
    assert_fails(replica, snapshot, ReplicaBucketMissing)


def test_a_missing_snapshot(s3, aws_keys, tmp_path) -> None:
    replica = Replica(f"s3://{s3.new_bucket()}/x", endpoint_url=s3.url, timeouts=FAST)
    with pytest.raises(ReplicaSnapshotMissing):
        replica.pull(Store(tmp_path / "s"), "20260101T000000.000000Z-0123abcd")


def test_no_credentials_anywhere(clean_aws, snapshot) -> None:
    with web_server() as url:
        replica = Replica("s3://bucket-a/x", endpoint_url=url, timeouts=FAST)
        assert_fails(replica, snapshot, ReplicaNoCredentials)


@pytest.fixture(scope="module")
def s3_auth() -> Iterator[tuple[S3Server, str, dict[str, str], dict[str, str]]]:
    """moto checking credentials after its first actions (INITIAL_NO_AUTH_ACTION_COUNT):
    those make a user allowed everything on S3, one allowed nothing, and a bucket."""
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="6") as server:
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        )
        iam.create_user(UserName="allowed")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
        policy["Statement"][0]["Resource"] = "*"
        iam.put_user_policy(UserName="allowed", PolicyName="s3", PolicyDocument=json.dumps(policy))
        allowed = iam.create_access_key(UserName="allowed")["AccessKey"]
        iam.create_user(UserName="nobody")
        nobody = iam.create_access_key(UserName="nobody")["AccessKey"]
        bucket = server.new_bucket()
        yield (
            server,
            bucket,
            {"id": allowed["AccessKeyId"], "secret": allowed["SecretAccessKey"]},
            {"id": nobody["AccessKeyId"], "secret": nobody["SecretAccessKey"]},
        )


def test_wrong_credentials(s3_auth, clean_aws, snapshot) -> None:
    server, bucket, allowed, _nobody = s3_auth
    unknown = Credentials("AKIAUNKNOWNKEY000000", "not-a-secret-of-anyone")
    replica = Replica(f"s3://{bucket}/x", endpoint_url=server.url, credentials=unknown)
    assert "AKIAUNKNOWN" not in repr(replica) and "not-a-secret" not in repr(unknown)
    assert_fails(replica, snapshot, ReplicaCredentialsRefused, "AKIAUNKNOWN", "not-a-secret")
    wrong_secret = Credentials(allowed["id"], "wrong-secret-for-a-real-key")
    replica = Replica(f"s3://{bucket}/x", endpoint_url=server.url, credentials=wrong_secret)
    assert_fails(replica, snapshot, ReplicaCredentialsRefused, allowed["id"], "wrong-secret")


def test_credentials_without_permission(s3_auth, clean_aws, snapshot) -> None:
    server, bucket, _allowed, nobody = s3_auth
    keys = Credentials(nobody["id"], nobody["secret"])
    replica = Replica(f"s3://{bucket}/x", endpoint_url=server.url, credentials=keys)
    assert_fails(replica, snapshot, ReplicaPermissionDenied, nobody["id"], nobody["secret"])


def test_keys_from_the_shared_credentials_file(s3_auth, clean_aws, tmp_path) -> None:
    server, bucket, allowed, _nobody = s3_auth
    aws = tmp_path / "home" / ".aws"
    aws.mkdir(parents=True)
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = {allowed['id']}\n"
        f"aws_secret_access_key = {allowed['secret']}\n"
    )
    replica = Replica(f"s3://{bucket}/x", endpoint_url=server.url, timeouts=FAST)
    # accepted: the keys came from the file (without them: no credentials at all)
    with pytest.raises(ReplicaSnapshotMissing):
        replica.pull(Store(tmp_path / "s"), "20260101T000000.000000Z-0123abcd")


def test_profile_settings(tmp_path) -> None:
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n"
        "[work]\naws_access_key_id = A2\naws_secret_access_key = S2\naws_session_token = T2\n"
    )
    (tmp_path / "config").write_text(
        "[default]\nregion = eu-west-3\n[profile work]\nregion = x-1\n"
    )
    files = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
    }
    keys, region = profile_settings(files)
    assert keys == Credentials("A1", "S1") and region == "eu-west-3"
    keys, region = profile_settings({**files, "AWS_PROFILE": "work"})
    assert keys == Credentials("A2", "S2", "T2") and region == "x-1"
    assert profile_settings({**files, "AWS_PROFILE": "none"}) == (None, None)
    assert profile_settings({"HOME": str(tmp_path / "nowhere")}) == (None, None)


@pytest.mark.parametrize(
    "url", ["s3://", "http://bucket/x", "s3://KEY:SECRET@bucket/x", "s3://bucket/a//b", "s3://b"]
)
def test_a_bad_address(url, aws_keys) -> None:
    with pytest.raises(ReplicaConfigError) as caught:
        Replica(url)
    assert "SECRET" not in str(caught.value)


def test_without_obstore(monkeypatch, aws_keys) -> None:
    monkeypatch.setitem(sys.modules, "obstore", None)
    with pytest.raises(ReplicaNotInstalled, match=r"jupyter-gpuguard\[s3\]"):
        Replica("s3://bucket-a/x")
