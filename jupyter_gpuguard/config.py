"""Every server-side setting of jupyter-gpuguard, in one place.

Set them in ``jupyter_server_config.py`` as ``c.GpuGuard.<name> = ...`` or on the command
line as ``--GpuGuard.<name>=...``.
"""

from __future__ import annotations

import re
from typing import Any

from traitlets import (
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    Int,
    TraitError,
    Unicode,
    observe,
    validate,
)
from traitlets.config import LoggingConfigurable

PROVIDERS = ("auto", "runpod", "aws", "gcp", "azure", "local", "manual")
# The kernel side reads the same forms (snapshot.host_memory.parse_margin).
MEMORY_MARGIN = re.compile(r"^\s*\d+(\.\d+)?\s*(%|[kmgt]i?b?|b)?\s*$", re.IGNORECASE)


class GpuGuard(LoggingConfigurable):
    provider = CaselessStrEnum(
        PROVIDERS,
        default_value="auto",
        help=(
            "Where the server runs. 'auto' detects RunPod (RUNPOD_POD_ID), then AWS, GCP and "
            "Azure through their metadata services, and falls back to 'local'. 'manual' uses "
            "manual_instance. Naming a provider skips detection of the others."
        ),
    ).tag(config=True)

    manual_instance = Dict(
        default_value={},
        help=(
            "Describe the machine yourself, for clouds that are not detected and on-prem "
            "machines. Keys: instance_type, gpu_name, gpu_count, gpu_memory_gb, region, "
            "interruptible (bool), price_per_hour, on_demand_price_per_hour, currency. "
            "When set and provider is 'auto', it is used instead of detection."
        ),
    ).tag(config=True)

    runpod_api_key = Unicode(
        "",
        help=(
            "Not read: `jupyter lab --debug` prints every setting in its log, so a key set "
            "here would be in it. Set runpod_api_key_file, RUNPOD_API_KEY or the panel's key."
        ),
    ).tag(config=True)

    runpod_api_key_file = Unicode(
        "",
        help=(
            "A file holding your RunPod API key, readable only by you (chmod 600). When "
            "empty, RUNPOD_API_KEY and then ~/.runpod/config.toml are used; a key set from "
            "the panel wins over all three. The key is never sent to the browser or written "
            "to a log."
        ),
    ).tag(config=True)

    runpod_key_file = Unicode(
        "",
        help=(
            "Where a RunPod API key set from the panel is kept (mode 0600, directory 0700). "
            "Empty: gpuguard-secrets/runpod_key in the Jupyter data directory, apart from "
            "the snapshot store."
        ),
    ).tag(config=True)

    pod_image = Unicode(
        "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
        help=(
            "Container image offered for a new on-demand pod when this server does not run "
            "on a RunPod pod (on one, the pod's own image is offered)."
        ),
    ).tag(config=True)

    pod_ports = Unicode(
        "8888/http,22/tcp",
        help="Ports a new pod exposes: JupyterLab behind RunPod's proxy, and SSH.",
    ).tag(config=True)

    pod_start_command = Unicode(
        "/start.sh",
        help=(
            "The image's own start, run by pods launched or moved from the panel and by the "
            "RunPod template it saves, once they have installed this version of "
            "jupyter-gpuguard from the volume's wheelhouse (else the package index; a failed "
            "install is logged to .gpuguard/pod-start.log on the volume and JupyterLab starts "
            "anyway). RunPod's official images start with /start.sh; for another image, the "
            "command that starts its JupyterLab, split like a shell does (quote a path with "
            "spaces)."
        ),
    ).tag(config=True)

    runpod_launch_timeout = Float(
        60.0,
        help=(
            "Seconds to wait for RunPod to answer a launch, stop or terminate request "
            "(finding a machine can take a while)."
        ),
    ).tag(config=True)

    aws_metadata_url = Unicode(
        "http://169.254.169.254",
        help="Base URL of the AWS instance metadata service (IMDSv2).",
    ).tag(config=True)

    gcp_metadata_url = Unicode(
        "http://169.254.169.254",
        help=(
            "Base URL of the GCP metadata server (same service as "
            "http://metadata.google.internal, without a DNS lookup)."
        ),
    ).tag(config=True)

    azure_metadata_url = Unicode(
        "http://169.254.169.254",
        help="Base URL of the Azure Instance Metadata Service.",
    ).tag(config=True)

    detect_timeout = Float(
        1.0,
        help=(
            "Seconds the whole cloud detection chain may take before the machine is reported "
            "as local. Runs in the background: it never delays server start."
        ),
    ).tag(config=True)

    runpod_api_timeout = Float(
        5.0, help="Seconds to wait for RunPod's GraphQL API before reporting 'unknown'."
    ).tag(config=True)

    refresh_interval = Float(
        300.0,
        help="Seconds between background refreshes of the instance facts (price, uptime).",
    ).tag(config=True)

    notice_poll_interval = Float(
        5.0,
        help=(
            "Seconds between polls for a preemption notice on interruptible AWS and Azure "
            "instances (GCP is watched with a long poll)."
        ),
    ).tag(config=True)

    prices = Dict(
        default_value={},
        help=(
            "Override or extend the shipped price table. Keys are '<provider>:<instance_type>' "
            "(e.g. 'aws:g5.xlarge') or '<provider>:<instance_type>:<region>'; values are dicts "
            "with any of on_demand, spot, gpu_name, gpu_count, gpu_memory_gb (prices per hour)."
        ),
    ).tag(config=True)

    snapshot_dir = Unicode(
        "",
        help=(
            "Where snapshots of kernel variables are stored. Empty: $GPUGUARD_STORE, else "
            "/workspace/.gpuguard when /workspace exists (RunPod's persistent volume), else "
            "the gpuguard folder of Jupyter's data directory."
        ),
    ).tag(config=True)

    snapshot_interval = Float(
        None,
        allow_none=True,
        help=(
            "Seconds between automatic snapshots of a kernel that ran a cell; 0 turns them "
            "off. Unset: chosen from the snapshot's measured cost and the instance's risk "
            "(Young's rule on spot, on_demand_snapshot_interval otherwise)."
        ),
    ).tag(config=True)

    spot_mean_hours_between_interruptions = Float(
        12.0,
        help=(
            "Expected hours between interruptions of a spot instance, for Young's rule "
            "sqrt(2 x snapshot cost x mean time between interruptions). 12 h is a cautious "
            "reading of the providers' published GPU spot interruption rates; RunPod "
            "reclaims interruptible pods whenever someone pays more."
        ),
    ).tag(config=True)

    minimum_snapshot_interval = Float(
        60.0, help="Lower bound, in seconds, of the automatic snapshot interval."
    ).tag(config=True)

    maximum_snapshot_interval = Float(
        1800.0, help="Upper bound, in seconds, of the automatic interval on spot instances."
    ).tag(config=True)

    on_demand_snapshot_interval = Float(
        1800.0,
        help=(
            "Seconds between automatic snapshots on on-demand and local machines, where "
            "kernels still die (out of memory, a crash)."
        ),
    ).tag(config=True)

    snapshot_keep = Int(
        10, help="Snapshots kept per notebook; older ones are pruned after each snapshot."
    ).tag(config=True)

    snapshot_max_bytes = Int(
        0,
        help=(
            "Size cap of the snapshot store in bytes (0: no cap). The oldest snapshots go "
            "first; the newest is always kept."
        ),
    ).tag(config=True)

    snapshot_replica = Unicode(
        "",
        help=(
            "A replica of the snapshot store on S3-compatible object storage, as "
            "s3://bucket/prefix: the server uploads each committed snapshot there in the "
            "background, so that snapshots outlive the machine and its disk. Needs "
            "`pip install 'jupyter-gpuguard[s3]'`. Anyone who can write to the bucket can run "
            "code in your kernels when you restore: use a bucket only you can write. The "
            "panel's Replica setting wins over this one."
        ),
    ).tag(config=True)

    s3_endpoint_url = Unicode(
        "",
        help=(
            "The replica's S3 endpoint, for services other than AWS S3: e.g. "
            "https://storage.googleapis.com, https://<account>.r2.cloudflarestorage.com, "
            "https://s3api-<dc>.runpod.io. Empty: AWS S3 (or AWS_ENDPOINT_URL)."
        ),
    ).tag(config=True)

    s3_region = Unicode(
        "",
        help=(
            "The replica's region. Empty: AWS_REGION, else ~/.aws/config, else us-east-1. "
            "Credentials come from the standard AWS chain (environment, ~/.aws, the "
            "instance's role) or from the panel, which keeps them server side (0600)."
        ),
    ).tag(config=True)

    replica_settings_file = Unicode(
        "",
        help=(
            "Where the replica settings and credentials entered in the panel are kept "
            "(mode 0600, directory 0700). Empty: gpuguard-secrets/replica.json in the "
            "Jupyter data directory, apart from the snapshot store."
        ),
    ).tag(config=True)

    scheduler_tick = Float(
        2.0, help="Seconds between the scheduler's looks at the kernels (cheap: no kernel I/O)."
    ).tag(config=True)

    sigterm_snapshot_timeout = Float(
        25.0,
        help=(
            "On SIGTERM (sent by container platforms before they stop a pod), seconds to wait "
            "for the snapshots of every kernel before the server stops."
        ),
    ).tag(config=True)

    scrub_interval = Float(
        86400.0,
        help=(
            "Seconds between background checks of the chunks the next snapshots will reuse "
            "(those of each notebook's newest snapshot). A damaged chunk is removed, so that "
            "the next snapshot writes it again. 0 turns the check off."
        ),
    ).tag(config=True)

    wheelhouse_refresh = Bool(
        None,
        allow_none=True,
        help=(
            "Write this version's wheel and its dependencies' into wheels/ in the snapshot "
            "store when it lacks them, in the background after start, so that a new pod "
            "installs the extension from the volume (`jupyter gpuguard wheelhouse` does it by "
            "hand). Unset: when the store is on a cloud machine's persistent volume (RunPod's "
            "/workspace); true: always; false: never."
        ),
    ).tag(config=True)

    nvml = Bool(
        True, help="Read GPU name, count and memory through NVML when a driver is present."
    ).tag(config=True)

    cuda_host_memory_margin = Unicode(
        "10%",
        help=(
            "Host memory a snapshot leaves free when it copies GPU tensors: a percent of the "
            "machine's (or the container's cgroup) memory, or bytes ('8GiB', '4G'). Before "
            "copying, the bytes that changed are compared with what is available (MemAvailable "
            "and the cgroup's limit) less this margin; tensors that do not fit are skipped, "
            "with that reason, instead of bringing the OOM killer."
        ),
    ).tag(config=True)

    @validate("cuda_host_memory_margin")
    def _check_margin(self, proposal: Any) -> str:
        value = str(proposal["value"])
        number = re.match(r"\s*(\d+(\.\d+)?)\s*%", value)
        if not MEMORY_MARGIN.match(value) or (number and float(number.group(1)) > 100):
            raise TraitError(
                f"cuda_host_memory_margin {value[:40]!r}: give a percent up to 100 ('10%') "
                "or bytes ('8GiB', '4G', '1000000')"
            )
        return value

    idle_stop_after = Float(
        None,
        allow_none=True,
        help=(
            "Seconds of idleness after which every kernel is snapshotted and, once every "
            "snapshot committed, the machine is stopped (on RunPod: podStop for this pod; "
            "elsewhere: idle_stop_command). Idle: no kernel busy, no cell run, no terminal "
            "input or output, no file saved, and every GPU below idle_gpu_percent; an open "
            "browser tab is not activity. Unset or 0: off. The panel can change it while the "
            "server runs (for the server's life)."
        ),
    ).tag(config=True)

    idle_gpu_percent = Float(
        5.0,
        help=(
            "GPU utilisation (percent, as NVML reports it) at or above which a GPU counts as "
            "busy for idle stop: a training script outside Jupyter keeps the machine running."
        ),
    ).tag(config=True)

    idle_warn_before = Float(
        300.0,
        help="Seconds before an idle stop at which the panel warns, with a Keep running button.",
    ).tag(config=True)

    idle_stop_command = Unicode(
        "",
        help=(
            "Shell command that stops this machine once an idle stop's snapshots committed, "
            "off RunPod (e.g. 'sudo shutdown -h now', which stops an AWS or GCP VM whose "
            "shutdown behaviour is stop). Its output goes to the server's log. Empty, off "
            "RunPod: nothing is stopped and only the idle cost is shown."
        ),
    ).tag(config=True)

    idle_check_interval = Float(
        10.0,
        help="Seconds between looks at the activity (kernels, terminals, GPU utilisation).",
    ).tag(config=True)

    idle_snapshot_timeout = Float(
        600.0,
        help=(
            "Seconds an idle stop waits for every kernel's snapshot; past it nothing is "
            "stopped and the panel says why."
        ),
    ).tag(config=True)

    @observe("runpod_api_key")
    def _refuse_literal_key(self, change: Any) -> None:
        if not change.new:
            return
        self.runpod_api_key = ""  # so that nothing can use it by mistake
        self.log.warning(
            "jupyter_gpuguard: c.GpuGuard.runpod_api_key is set, and ignored: a key in the "
            "configuration is printed in the server's log by --debug. Put the key in a file "
            "only you can read (chmod 600) and name it in c.GpuGuard.runpod_api_key_file, "
            "or set RUNPOD_API_KEY, or paste it into the panel's On-demand pod section."
        )


def settings_markdown() -> str:
    """The README's table of settings, generated from the traits so the two cannot drift."""
    import json

    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for name, trait in sorted(GpuGuard.class_traits(config=True).items()):
        default = trait.default()
        shown = f'"{default}"' if isinstance(default, str) else json.dumps(default)
        meaning = " ".join((trait.help or "").split()).replace("|", "\\|")
        rows.append(f"| `{name}` | `{shown}` | {meaning} |")
    return "\n".join(rows)
