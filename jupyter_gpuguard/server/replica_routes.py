"""The replica's settings from the panel: where snapshots are uploaded, and with which keys.

The keys go one way, from the browser to a private file: no answer carries them back. The
replica's modules load with the first request that changes it, not at the server's start.
"""

from __future__ import annotations

import tornado

from . import handler
from .routes import answered


class ReplicaHandler(handler.GpuGuardHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(self.scheduler.replication.status())

    @tornado.web.authenticated
    async def put(self) -> None:
        """Use the replica the body names, once it answers as one: a bucket that cannot be
        reached or written is refused with the reason, and the settings stay as they were."""
        from ..snapshot.replica.errors import ReplicaError
        from ..snapshot.replica.settings import parse, save, settings_file

        body = self.json_body()
        unknown = set(body) - {
            "url",
            "endpoint_url",
            "region",
            "access_key_id",
            "secret_access_key",
            "session_token",
        }
        if unknown:
            raise handler.invalid(f"unknown field {sorted(unknown)[0][:40]!r}.")
        replication = self.scheduler.replication
        try:
            settings = parse(body)
            await replication.check(settings)
        except ReplicaError as err:
            raise tornado.web.HTTPError(400, str(err), reason=err.reason) from err
        with answered():
            await self.in_thread(save, settings_file(self.scheduler.config), settings)
        await self.in_thread(replication.reconfigure)
        self.write_json(replication.status())

    @tornado.web.authenticated
    async def delete(self) -> None:
        """Forget the panel's replica (and its keys); the configuration's, if any, is used."""
        from ..snapshot.replica.settings import forget, settings_file

        await self.in_thread(forget, settings_file(self.scheduler.config))
        replication = self.scheduler.replication
        await self.in_thread(replication.reconfigure)
        self.write_json(replication.status())


def replica_handlers() -> list[tuple[str, type]]:
    return [(r"/gpuguard/replica", ReplicaHandler)]
