"""Jupyter server settings for the Galata tests, one machine per server.

Each ``jupyter_server_test_config*.py`` calls ``configure(c, port)`` and then describes its
machine. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from jupyterlab.galata import configure_jupyter_server

REPO = Path(__file__).resolve().parent.parent


def configure(c: Any, port: int) -> None:
    configure_jupyter_server(c)
    c.ServerApp.port = port
    c.ServerApp.allow_root = True
    # A machine without cloud metadata: every provider URL refuses at once on loopback.
    closed = "http://127.0.0.1:9"
    c.GpuGuard.aws_metadata_url = closed
    c.GpuGuard.gcp_metadata_url = closed
    c.GpuGuard.azure_metadata_url = closed
    c.GpuGuard.nvml = False
    # A fresh snapshot store per server start: no snapshot of an earlier run leaks in.
    # Stores of earlier servers on this port are stale (the port was free), and a
    # killed server leaves its store behind.
    prefix = f"gpuguard-ui-store-{port}-"
    for stale in Path(tempfile.gettempdir()).glob(prefix + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    store = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, store, ignore_errors=True)
    c.GpuGuard.snapshot_dir = store
    # The panel's replica settings of this run alone, never the user's.
    c.GpuGuard.replica_settings_file = os.path.join(store + "-secrets", "replica.json")
    atexit.register(shutil.rmtree, store + "-secrets", ignore_errors=True)


def serve_fake_aws(port: int, **facts: Any) -> None:
    """Run the loopback AWS metadata fake of the Python tests in a background thread.

    ``POST /__control/interrupt`` with ``{"action", "time"}`` schedules a spot interruption,
    the way AWS announces one two minutes ahead.
    """
    sys.path.insert(0, str(REPO))
    import tornado.web
    from tornado.httpserver import HTTPServer

    from tests.fakes import aws_imds

    fake = aws_imds.FakeAws(**facts)

    class Interrupt(tornado.web.RequestHandler):
        def post(self) -> None:
            body = json.loads(self.request.body or b"{}")
            fake.interrupt(action=body.get("action", "terminate"), time=body["time"])
            self.finish({"ok": True})

    app = aws_imds.make_app(fake)
    app.settings["log_function"] = lambda _handler: None  # keep the Lab log readable
    app.add_handlers(r".*", [(r"/__control/interrupt", Interrupt)])

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = HTTPServer(app)
        server.listen(port, address="127.0.0.1")
        loop.run_forever()

    threading.Thread(target=run, name="fake-aws-imds", daemon=True).start()


RUNPOD_TEST_KEY = "rp_galata_key_0123456789"


THIS_POD = "galatapod1"


def serve_fake_runpod(c: Any, port: int) -> None:
    """RunPod's GraphQL API on loopback (the fake of the Python tests), with no key set, and
    this server pretending to run on a spot pod of it (``THIS_POD``, on the "notebooks"
    network volume) so that a session can be moved.

    The panel's key is kept in a fresh directory per server start. ``POST
    /__control/running/<pod id>`` makes a starting pod run, as when its image is pulled;
    ``GET /__control/launched`` answers the launch requests the fake received.
    """
    sys.path.insert(0, str(REPO))
    import tornado.web
    from tornado.httpserver import HTTPServer

    from tests.fakes import runpod_graphql

    fake = runpod_graphql.FakeRunPod(api_key=RUNPOD_TEST_KEY)
    fake.pods[THIS_POD] = runpod_graphql.pod(
        THIS_POD, name="galata-spot", networkVolumeId=runpod_graphql.VOLUME["id"]
    )

    class Running(tornado.web.RequestHandler):
        def check_xsrf_cookie(self) -> None:
            return None

        def post(self, pod_id: str) -> None:
            fake.pods[pod_id]["runtime"] = {"uptimeInSeconds": 5}
            self.finish({"ok": True})

    class Launched(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(fake.launched))

    app = runpod_graphql.make_app(fake)
    app.settings["log_function"] = lambda _handler: None
    app.add_handlers(
        r".*",
        [(r"/__control/running/([^/]+)", Running), (r"/__control/launched", Launched)],
    )

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = HTTPServer(app)
        server.listen(port, address="127.0.0.1")
        loop.run_forever()

    threading.Thread(target=run, name="fake-runpod", daemon=True).start()
    os.environ["RUNPOD_API_BASE_URL"] = f"http://127.0.0.1:{port}"
    os.environ.pop("RUNPOD_API_KEY", None)
    os.environ["RUNPOD_POD_ID"] = THIS_POD
    os.environ["RUNPOD_DC_ID"] = runpod_graphql.VOLUME["dataCenterId"]
    keys = tempfile.mkdtemp(prefix=f"gpuguard-ui-key-{port}-")
    atexit.register(shutil.rmtree, keys, ignore_errors=True)
    c.GpuGuard.runpod_key_file = str(Path(keys) / "runpod-api-key")
