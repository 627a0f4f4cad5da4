"""A RunPod GraphQL API on 127.0.0.1 for tests.

It checks the bearer key like api.runpod.io and parses and validates every query against a
schema modelled on RunPod's, so a malformed or injected query fails here as it would there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import graphql
import tornado.web

SCHEMA_SDL = """
scalar Void
type Query {
  pod(input: PodFilter!): Pod
  gpuTypes(input: GpuTypeFilter): [GpuType!]!
  myself: User
}
type Mutation {
  podFindAndDeployOnDemand(input: PodFindAndDeployOnDemandInput): Pod
  podStop(input: PodStopInput!): Pod
  podTerminate(input: PodTerminateInput!): Void
  saveTemplate(input: SaveTemplateInput): PodTemplate
}
enum CloudTypeEnum { ALL SECURE COMMUNITY }
input EnvironmentVariableInput { key: String! value: String! }
input PodFindAndDeployOnDemandInput {
  name: String
  imageName: String
  gpuTypeId: String
  gpuCount: Int
  cloudType: CloudTypeEnum
  containerDiskInGb: Int
  volumeInGb: Int
  volumeMountPath: String
  ports: String
  supportPublicIp: Boolean
  startSsh: Boolean
  env: [EnvironmentVariableInput]
  networkVolumeId: String
  dataCenterId: String
  dockerArgs: String
}
input SaveTemplateInput {
  name: String!
  imageName: String!
  containerDiskInGb: Int!
  volumeInGb: Int!
  volumeMountPath: String
  ports: String
  dockerArgs: String!
  env: [EnvironmentVariableInput]!
  isServerless: Boolean
  containerRegistryAuthId: String
  startSsh: Boolean
  isPublic: Boolean
  readme: String
}
type EnvironmentVariable { key: String value: String }
type PodTemplate {
  id: String!
  name: String
  imageName: String
  dockerArgs: String
  containerDiskInGb: Int
  volumeInGb: Int
  volumeMountPath: String
  ports: String
  env: [EnvironmentVariable]
  isServerless: Boolean
  readme: String
}
input PodStopInput { podId: String! }
input PodTerminateInput { podId: String! }
input PodFilter { podId: String! }
input GpuTypeFilter { id: String }
input GpuLowestPriceInput { gpuCount: Int! }
type User {
  id: String!
  clientBalance: Float
  pods: [Pod!]!
  networkVolumes: [NetworkVolume]
}
type NetworkVolume { id: String! name: String size: Int dataCenterId: String }
type Pod {
  id: String!
  name: String
  podType: String
  costPerHr: Float
  gpuCount: Int
  uptimeSeconds: Int
  imageName: String
  desiredStatus: String
  env: [String]
  networkVolumeId: String
  ports: String
  containerDiskInGb: Int
  volumeInGb: Int
  dockerArgs: String
  machine: PodMachine
  runtime: PodRuntime
}
type PodMachine { gpuDisplayName: String gpuTypeId: String }
type PodRuntime { uptimeInSeconds: Int }
type LowestPrice { stockStatus: String }
type GpuType {
  id: String!
  displayName: String
  memoryInGb: Int
  maxGpuCount: Int
  secureCloud: Boolean
  communityCloud: Boolean
  securePrice: Float
  communityPrice: Float
  secureSpotPrice: Float
  communitySpotPrice: Float
  lowestPrice(input: GpuLowestPriceInput): LowestPrice
}
"""
SCHEMA = graphql.build_schema(SCHEMA_SDL)

A6000 = {
    "id": "NVIDIA RTX A6000",
    "displayName": "RTX A6000",
    "memoryInGb": 48,
    "securePrice": 0.76,
    "communityPrice": 0.49,
    "secureSpotPrice": 0.39,
    "communitySpotPrice": 0.25,
    "maxGpuCount": 8,
    "secureCloud": True,
    "communityCloud": True,
    "lowestPrice": {"stockStatus": "High"},
}
H100 = {
    "id": "NVIDIA H100 80GB HBM3",
    "displayName": "H100 SXM",
    "memoryInGb": 80,
    "securePrice": 2.99,
    "communityPrice": 2.69,
    "secureSpotPrice": None,
    "communitySpotPrice": None,
    "maxGpuCount": 8,
    "secureCloud": True,
    "communityCloud": False,
    "lowestPrice": {"stockStatus": "Low"},
}
VOLUME = {"id": "vol_abc123", "name": "notebooks", "size": 100, "dataCenterId": "EU-RO-1"}


def pod(pod_id: str = "abc123xyz", **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": pod_id,
        "name": "training-pod",
        "podType": "INTERRUPTABLE",
        "costPerHr": 0.23,
        "gpuCount": 1,
        "uptimeSeconds": 7200,
        "imageName": "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
        "desiredStatus": "RUNNING",
        "machine": {"gpuDisplayName": "RTX A6000", "gpuTypeId": "NVIDIA RTX A6000"},
        "runtime": {"uptimeInSeconds": 7200},
        "env": ["JUPYTER_PASSWORD=s3cret", "RUNPOD_POD_ID=" + pod_id],
        "networkVolumeId": None,
        "ports": "8888/http,22/tcp,6006/http",
        "containerDiskInGb": 40,
        "volumeInGb": 0,
        "dockerArgs": "",
    }
    value.update(overrides)
    return value


@dataclass
class FakeRunPod:
    api_key: str = "rp_test_key_0123456789"
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    gpu_types: list[dict[str, Any]] = field(default_factory=lambda: [A6000, H100])
    delay: float = 0.0
    http_status: int | None = None
    raw_body: bytes | None = None
    graphql_error: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    volumes: list[dict[str, Any]] = field(default_factory=lambda: [dict(VOLUME)])
    balance: float = 25.0
    launch_error: str | None = None  # RunPod's words for a refused launch
    launched: list[dict[str, Any]] = field(default_factory=list)  # launch inputs, as parsed
    schema: graphql.GraphQLSchema = SCHEMA  # another one plays an older or newer RunPod
    template_error: str | None = None  # RunPod's words for a refused template
    templates: list[dict[str, Any]] = field(default_factory=list)  # saveTemplate inputs
    stop_error: str | None = None  # RunPod's words for a refused podStop
    stopped: list[str] = field(default_factory=list)  # pod ids podStop was asked for
    on_stop: Callable[[str], None] | None = None  # called as podStop arrives, before it acts

    def root(self) -> dict[str, Any]:
        return {
            "pod": lambda _info, input: self.pods.get(input["podId"]),  # noqa: A002
            "gpuTypes": lambda _info, input=None: [  # noqa: A002
                g for g in self.gpu_types if not input or input.get("id") in (None, g["id"])
            ],
            "myself": {
                "id": "user_1",
                "clientBalance": self.balance,
                "pods": list(self.pods.values()),
                "networkVolumes": self.volumes,
            },
            "podFindAndDeployOnDemand": self._launch,
            "podStop": self._stop,
            "podTerminate": self._terminate,
            "saveTemplate": self._save_template,
        }

    def _launch(self, _info: Any, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        if self.launch_error:
            raise graphql.GraphQLError(self.launch_error)
        self.launched.append(input)
        gpu = next((g for g in self.gpu_types if g["id"] == input.get("gpuTypeId")), None)
        if gpu is None:
            raise graphql.GraphQLError(
                "There are no longer any instances available with the requested specifications."
            )
        pod_id = f"newpod{len(self.launched):04d}"
        price = (
            gpu["securePrice"] if input.get("cloudType") != "COMMUNITY" else gpu["communityPrice"]
        )
        created = pod(
            pod_id,
            name=input.get("name"),
            podType="RESERVED",
            costPerHr=round(price * (input.get("gpuCount") or 1), 4),
            gpuCount=input.get("gpuCount"),
            imageName=input.get("imageName"),
            desiredStatus="RUNNING",
            runtime=None,
            uptimeSeconds=0,
            machine={"gpuDisplayName": gpu["displayName"], "gpuTypeId": gpu["id"]},
            env=[f"{e['key']}={e['value']}" for e in input.get("env") or []],
            networkVolumeId=input.get("networkVolumeId"),
            dockerArgs=input.get("dockerArgs") or "",
        )
        self.pods[pod_id] = created
        return created

    def _save_template(self, _info: Any, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        if self.template_error:
            raise graphql.GraphQLError(self.template_error)
        if any(t["name"] == input["name"] for t in self.templates):
            raise graphql.GraphQLError("Template name must be unique")
        self.templates.append(input)
        return {**input, "id": f"tpl{len(self.templates):04d}"}

    def _stop(self, _info: Any, input: dict[str, Any]) -> dict[str, Any] | None:  # noqa: A002
        if self.on_stop is not None:
            self.on_stop(input["podId"])
        if self.stop_error:
            raise graphql.GraphQLError(self.stop_error)
        self.stopped.append(input["podId"])
        found = self.pods.get(input["podId"])
        if found is None:
            raise graphql.GraphQLError("Pod not found")
        found.update(desiredStatus="EXITED", runtime=None)
        return found

    def _terminate(self, _info: Any, input: dict[str, Any]) -> None:  # noqa: A002
        if self.pods.pop(input["podId"], None) is None:
            raise graphql.GraphQLError("Pod not found")
        return None


class GraphQLHandler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeRunPod) -> None:
        self.fake = fake

    def check_xsrf_cookie(self) -> None:
        return None

    async def post(self) -> None:
        fake = self.fake
        if fake.delay:
            await asyncio.sleep(fake.delay)
        if self.request.headers.get("Authorization") != f"Bearer {fake.api_key}":
            self.set_status(401)
            self.finish({"errors": [{"message": "Unauthorized"}]})
            return
        if fake.http_status is not None:
            self.set_status(fake.http_status)
            self.finish("upstream trouble")
            return
        if fake.raw_body is not None:
            self.set_header("Content-Type", "application/json")
            self.finish(fake.raw_body)
            return
        try:
            payload = json.loads(self.request.body)
            query = payload["query"]
        except (ValueError, KeyError, TypeError):
            self.set_status(400)
            self.finish({"errors": [{"message": "Body must be JSON with a query"}]})
            return
        fake.received.append(payload)
        if fake.graphql_error is not None:
            self.finish({"errors": [{"message": fake.graphql_error}], "data": None})
            return
        result = graphql.graphql_sync(
            fake.schema,
            query,
            root_value=fake.root(),
            variable_values=payload.get("variables"),
        )
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [{"message": err.message} for err in result.errors]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(answer))


def make_app(fake: FakeRunPod) -> tornado.web.Application:
    return tornado.web.Application([(r"/graphql", GraphQLHandler, {"fake": fake})])
