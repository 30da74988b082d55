"""Facade behaviour that only shows in a real process: Ctrl-C, fork, interpreter exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

PRELUDE = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from tether._core.blocking import loop_thread
    """
)


def run_script(body: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "dev", "-c", PRELUDE + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_the_underlying_task() -> None:
    script = PRELUDE + textwrap.dedent(
        """
        async def long():
            try:
                print("started", flush=True)
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                print("task cancelled", flush=True)
                raise
        try:
            loop_thread().run(long)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished without interrupt")
        sys.exit(1)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "task cancelled" in out
    assert "interrupted" in out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_gets_a_fresh_loop_thread() -> None:
    result = run_script(
        """
        import warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: we handle it
        async def who():
            import threading
            return threading.get_ident()
        parent_ident = loop_thread().run(who)
        pid = os.fork()
        if pid == 0:
            child_ident = loop_thread().run(who)
            os._exit(0 if child_ident else 3)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "child exit 0" in result.stdout


SERVER = """
from aiohttp import web
from tether._core.blocking import ClientFacade
from tether._core.http import HTTPClient
from tether._core.resource import AsyncClientBase
from tether.testing import SimulatorBase, running

class Hello(SimulatorBase):
    async def start(self):
        app = web.Application()
        async def hi(request):
            return web.json_response({"hi": 1, "pid": request.query.get("pid")})
        app.router.add_get("/", hi)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
    async def stop(self):
        await self.runner.cleanup()
    def info(self):
        return {"URL": self.url}

class AsyncC(AsyncClientBase):
    def __init__(self, url):
        self.http = HTTPClient(url, timeout=5)
        self.converter = None
class C(ClientFacade[AsyncC], mirrors=AsyncC):
    def get(self):
        return self._run(self._wrapped.http.request, "GET", "/", params={"pid": os.getpid()}).json()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_client_used_before_fork_works_in_both_processes() -> None:
    result = run_script(
        SERVER
        + """
import warnings
warnings.simplefilter("ignore", DeprecationWarning)
sim = Hello()
from tether._core.blocking import LoopThread
server_thread = LoopThread(name="server")
server_thread.run(sim.start)
client = C(AsyncC(sim.url))
print("parent before", client.get()["hi"], flush=True)
pid = os.fork()
if pid == 0:
    ok = client.get()["pid"] == str(os.getpid())
    client.close()
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status), flush=True)
print("parent after", client.get()["hi"], flush=True)   # hung before the fix
client.close()
server_thread.run(sim.stop)
server_thread.stop()
"""
    )
    assert result.returncode == 0, result.stderr
    assert "parent before 1" in result.stdout
    assert "child exit 0" in result.stdout
    assert "parent after 1" in result.stdout
    assert "Unclosed" not in result.stderr


def test_interpreter_exit_is_clean_with_an_unclosed_client() -> None:
    result = run_script(
        """
        from aiohttp import web
        from tether._core.blocking import ClientFacade
        from tether._core.http import HTTPClient
        from tether._core.resource import AsyncClientBase
        from tether.testing import SimulatorBase, running

        class Hello(SimulatorBase):
            async def start(self):
                app = web.Application()
                async def hi(request):
                    return web.json_response({"hi": 1})
                app.router.add_get("/", hi)
                self.runner = web.AppRunner(app)
                await self.runner.setup()
                site = web.TCPSite(self.runner, "127.0.0.1", 0)
                await site.start()
                self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
            async def stop(self):
                await self.runner.cleanup()
            def info(self):
                return {"URL": self.url}

        class AsyncC(AsyncClientBase):
            def __init__(self, url):
                self.http = HTTPClient(url)
                self.converter = None
        class C(ClientFacade[AsyncC], mirrors=AsyncC):
            def get(self):
                return self._run(self._wrapped.http.request, "GET", "/").json()

        with running(Hello()) as sim:
            client = C(AsyncC(sim.url))   # never closed by the user
            print(client.get())
        print("exiting")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "{'hi': 1}" in result.stdout and "exiting" in result.stdout
    assert result.stderr == ""  # no "Unclosed client session", no "Event loop is closed"
