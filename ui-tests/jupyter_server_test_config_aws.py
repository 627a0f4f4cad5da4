"""Galata server 2 (port 8889): an AWS g5.xlarge spot instance behind a loopback IMDSv2."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from galata_servers import configure, serve_fake_aws  # noqa: E402

FAKE_IMDS_PORT = 18889

serve_fake_aws(FAKE_IMDS_PORT, instance_type="g5.xlarge", life_cycle="spot", region="us-east-1")
configure(c, 8889)  # noqa: F821
c.GpuGuard.provider = "auto"  # noqa: F821
c.GpuGuard.aws_metadata_url = f"http://127.0.0.1:{FAKE_IMDS_PORT}"  # noqa: F821
c.GpuGuard.notice_poll_interval = 0.5  # noqa: F821
