"""The SIP worker processes, seen from the dialer: start them, talk to them, replace the dead.

The pool runs on the dialer's asyncio loop. It listens on a Unix socket in a private
directory, starts ``workers`` processes (``python -m callhopper.telephony.sip.worker``,
behind an optional launcher prefix such as ``nsenter --net=…`` or ``taskset``), and reads
each one's events. A worker is lost when its socket closes or its process exits, whichever
is noticed first (both within milliseconds of a crash): the pool reports it once, then
starts a replacement under the same number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callhopper.telephony.sip.config import WORKER_CONFIG_ENV, WorkerConfig
from callhopper.telephony.sip.protocol import Message, decode, encode

log = logging.getLogger(__name__)

#: How long a new worker may take to start PJSUA2 and say hello.
WORKER_START_TIMEOUT_S = 20.0


@dataclass(eq=False)
class WorkerHandle:
    """One running worker process and the calls the dialer placed on it."""

    number: int
    process: asyncio.subprocess.Process
    pid: int = 0
    writer: asyncio.StreamWriter | None = None
    calls: set[str] = field(default_factory=set)
    lost: bool = False

    def send(self, message: Message) -> None:
        if self.writer is None or self.lost:
            raise ConnectionError(f"SIP worker {self.number} is not connected")
        self.writer.write(encode(message))


OnMessage = Callable[[WorkerHandle, Message], None]
OnLost = Callable[[WorkerHandle], None]


class WorkerPool:
    """Starts and watches the worker processes; routes their messages to the adapter."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        workers: int,
        on_message: OnMessage,
        on_lost: OnLost,
        launcher: Sequence[str] = (),
    ) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.config = config
        self.size = workers
        self.launcher = tuple(launcher)
        self._on_message = on_message
        self._on_lost = on_lost
        self.workers: dict[int, WorkerHandle] = {}
        self._hello: dict[int, asyncio.Future[WorkerHandle]] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="callhopper-sip-pool-")
        self.socket_path = str(Path(self._tmp.name) / "workers.sock")
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.restarts = 0

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._accept, path=self.socket_path)
        await asyncio.gather(*(self._spawn(n) for n in range(self.size)))

    def _task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spawn(self, number: int) -> WorkerHandle:
        env = dict(os.environ)
        env[WORKER_CONFIG_ENV] = self.config.to_json()
        loop = asyncio.get_running_loop()
        hello: asyncio.Future[WorkerHandle] = loop.create_future()
        self._hello[number] = hello
        process = await asyncio.create_subprocess_exec(
            *self.launcher,
            sys.executable,
            "-m",
            "callhopper.telephony.sip.worker",
            "--socket",
            self.socket_path,
            "--worker",
            str(number),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
        )
        handle = WorkerHandle(number=number, process=process)
        self.workers[number] = handle
        self._task(self._watch_exit(handle))
        try:
            await asyncio.wait_for(asyncio.shield(hello), WORKER_START_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            raise RuntimeError(
                f"SIP worker {number} did not start within {WORKER_START_TIMEOUT_S:g} s"
            ) from None
        return handle

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        if not line:
            writer.close()
            return
        hello = decode(line)
        number = int(hello["worker"])
        handle = self.workers.get(number)
        if handle is None or hello.get("ev") != "hello":
            writer.close()
            return
        handle.writer = writer
        handle.pid = int(hello["pid"])
        future = self._hello.pop(number, None)
        if future is not None and not future.done():
            future.set_result(handle)
        try:
            while line := await reader.readline():
                self._on_message(handle, decode(line))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        await self._lose(handle)

    async def _watch_exit(self, handle: WorkerHandle) -> None:
        code = await handle.process.wait()
        if not self._closing and not handle.lost:
            log.warning("SIP worker %s (pid %s) exited with %s", handle.number, handle.pid, code)
        await self._lose(handle)

    async def _lose(self, handle: WorkerHandle) -> None:
        if handle.lost:
            return
        handle.lost = True
        if handle.writer is not None:
            handle.writer.close()
        if self._closing:
            return
        if handle.process.returncode is None:
            handle.process.kill()
        self._on_lost(handle)
        if self.workers.get(handle.number) is handle:
            self.restarts += 1
            self._task(self._respawn(handle.number))

    async def _respawn(self, number: int) -> None:
        try:
            await self._spawn(number)
        except RuntimeError:
            log.exception("SIP worker %s could not be restarted", number)

    def live(self) -> list[WorkerHandle]:
        return [w for w in self.workers.values() if not w.lost and w.writer is not None]

    async def close(self) -> None:
        self._closing = True
        for handle in self.workers.values():
            if not handle.lost and handle.writer is not None:
                with contextlib.suppress(ConnectionError):
                    handle.send({"op": "shutdown"})
        for handle in self.workers.values():
            try:
                await asyncio.wait_for(handle.process.wait(), 5)
            except TimeoutError:
                handle.process.kill()
                await handle.process.wait()
            if handle.writer is not None:
                handle.writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tmp.cleanup()
