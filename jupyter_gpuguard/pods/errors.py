"""RunPod's errors in words a user can act on, each with the ``reason`` the frontend reads.

RunPod answers a failed query with English sentences and no codes. ``runpod_said`` is the
one place that reads them; everything after it goes by the kind it names.
"""

from __future__ import annotations

from .spec import LaunchSpec
from .template import TemplateSpec
from .transport import RunPodError

NO_KEY_MESSAGE = (
    "No RunPod API key is set. Create one at https://www.runpod.io/console/user/settings "
    "(API Keys, read and write) and paste it into the On-demand pod section, or set "
    "RUNPOD_API_KEY or c.GpuGuard.runpod_api_key_file."
)
BILLING_URL = "https://www.runpod.io/console/user/billing"

# What RunPod's words can say, as runpod_said names it.
UNKNOWN_FIELD = "unknown-field"  # a query names a field RunPod's schema no longer has
UNKNOWN_ARGUMENT = "unknown-argument"
NAME_REFUSED = "name-refused"  # only when the request is about a name (a template's)
NO_GPUS = "no-gpus"
BALANCE = "balance"
NOT_FOUND = "not-found"
OTHER = "other"


class PodError(Exception):
    """A pod operation failed. ``reason``: no-key, key-rejected, no-gpus, balance, not-found,
    runpod-error, unreachable, invalid, not-on-runpod, snapshot-failed or template-name;
    ``status`` is the HTTP status for our route."""

    def __init__(self, message: str, reason: str, status: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def runpod_said(err: RunPodError, about_a_name: bool = False) -> str:
    """The kind of RunPod's own words in ``err`` (``OTHER`` when it said none)."""
    said = err.api_message.lower()
    if about_a_name and "name" in said and "cannot query" not in said:
        # Read before the rest: a refused name may be "not available", which is no GPUs
        # anywhere else.
        return NAME_REFUSED
    if "cannot query field" in said:
        return UNKNOWN_FIELD
    if "unknown argument" in said:
        return UNKNOWN_ARGUMENT
    if any(w in said for w in ("no longer any instances", "no instances", "not available")) or (
        "no gpu" in said
    ):
        return NO_GPUS
    if any(w in said for w in ("balance", "funds", "credit")) and any(
        w in said for w in ("insufficient", "not enough", "too low", "low balance", "add ")
    ):
        return BALANCE
    if "not found" in said or "does not exist" in said:
        return NOT_FOUND
    return OTHER


def explain(
    err: RunPodError, action: str, about: LaunchSpec | TemplateSpec | None = None
) -> PodError:
    """RunPod's error, in words the user can act on; ``about`` is what was sent, if any."""
    if err.reason == "key-rejected":
        return PodError(
            "RunPod rejected the API key: it may have been revoked or lack write access. "
            "Set a new one in the On-demand pod section.",
            "key-rejected",
            409,
        )
    if err.reason in ("unreachable", "timeout", "garbage"):
        return PodError(f"Could not {action}: {err}", "unreachable", 502)
    said = runpod_said(err, about_a_name=isinstance(about, TemplateSpec))
    if said == NAME_REFUSED and isinstance(about, TemplateSpec):
        return PodError(
            f"RunPod refused the template name {about.name!r}: "
            f"{err.api_message.rstrip('.')}. Choose another name (a name is used once per "
            "account).",
            "template-name",
            409,
        )
    if said == NO_GPUS:
        where = ""
        if isinstance(about, LaunchSpec):
            where = f" ({about.gpu_count} x {about.gpu_type_id}, {about.cloud_type.lower()} cloud)"
        return PodError(
            f"RunPod has no GPUs of that type free right now{where}. Try another GPU type, "
            "fewer GPUs or the other cloud, or try again in a few minutes.",
            "no-gpus",
            409,
        )
    if said == BALANCE:
        return PodError(
            f"Your RunPod balance is too low to {action}. Add credit at {BILLING_URL}.",
            "balance",
            409,
        )
    if said == NOT_FOUND:
        return PodError(f"Could not {action}: RunPod knows no such pod.", "not-found", 404)
    # UNKNOWN_FIELD, UNKNOWN_ARGUMENT (RunPod's schema moved) and OTHER: RunPod's own words.
    return PodError(f"Could not {action}: RunPod said: {err.api_message}", "runpod-error", 502)
