"""Run real Kassa processes for tests: the API server and the `kassa` CLI.

Servers run as subprocesses of this interpreter (`python -m kassa`), each in
its own process group so that stopping or killing one also ends anything it
spawned. Output goes to a log file whose tail is shown when a server fails to
come up. Fault tests use `LiveKassa.kill()` and `start_kassa()` again to crash
and restart servers against the same database.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TEST_SECRET_KEY = "kassa-test-secret-key-0123456789abcdef"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 120.0


class KassaProcessError(RuntimeError):
    """A Kassa process failed to start, answer, or run to success."""


@dataclass(frozen=True)
class OrgCredentials:
    organization_id: str
    token: str
    organization_slug: str = ""
    token_id: str = ""


@dataclass
class KassaProcess:
    """A `kassa` subprocess (server, worker, ...) with its output in `log_path`."""

    args: tuple[str, ...]
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str
    env: dict[str, str] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "<no log file>"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM the process group, then SIGKILL it if still alive after `timeout`."""
        if self.is_running():
            _signal_group(self.process, signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return self.kill()

    def kill(self) -> int:
        """SIGKILL the process group at once, as a crash would."""
        _signal_group(self.process, signal.SIGKILL)
        return self.process.wait(STOP_TIMEOUT)


@dataclass
class LiveKassa(KassaProcess):
    """A running `kassa serve` listening on 127.0.0.1."""

    base_url: str
    port: int

    def wait_ready(self, timeout: float = READY_TIMEOUT, path: str = "/readyz") -> None:
        """Poll `path` until it answers 200; raise with the log tail otherwise."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if not self.is_running():
                raise KassaProcessError(
                    f"kassa serve exited with code {self.process.returncode} before it was "
                    f"ready ({self.base_url}{path})\n--- log tail ---\n{self.log_tail()}"
                )
            status, last = _probe(self.base_url + path)
            if status == 200:
                return
            time.sleep(0.1)
        raise KassaProcessError(
            f"kassa serve was not ready after {timeout:.0f}s at {self.base_url}{path} "
            f"(last answer: {last})\n--- log tail ---\n{self.log_tail()}"
        )

    def restart(self, *, ready_timeout: float = READY_TIMEOUT) -> LiveKassa:
        """Stop this server if it still runs and start a new one on the same port and env."""
        self.stop()
        return start_kassa(
            self.database_url,
            env=self.env,
            port=self.port,
            ready_timeout=ready_timeout,
            log_dir=self.log_path.parent,
        )


def spawn_kassa(
    args: Sequence[str],
    database_url: str,
    *,
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
) -> KassaProcess:
    """Start `kassa ARGS...` in its own process group without waiting for anything."""
    process_env = kassa_env(database_url, env)
    process, log_path = _popen(args, process_env, log_dir)
    return KassaProcess(tuple(args), process, log_path, database_url, process_env)


def start_kassa(
    database_url: str,
    *,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    ready_timeout: float = READY_TIMEOUT,
    log_dir: Path | None = None,
    worker: bool = False,
) -> LiveKassa:
    """Start `kassa serve` on 127.0.0.1 and return once `/readyz` answers 200. ``worker``
    runs the job worker in the same process (settlement, webhooks)."""
    port = port or free_port()
    args: tuple[str, ...] = ("serve", "--host", "127.0.0.1", "--port", str(port))
    if worker:
        args += ("--worker",)
    process_env = kassa_env(database_url, env)
    process, log_path = _popen(args, process_env, log_dir)
    server = LiveKassa(
        args=args,
        process=process,
        log_path=log_path,
        database_url=database_url,
        env=process_env,
        base_url=f"http://127.0.0.1:{port}",
        port=port,
    )
    try:
        server.wait_ready(ready_timeout)
    except BaseException:
        server.kill()
        raise
    return server


def run_kassa_cli(
    args: Sequence[str],
    database_url: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = CLI_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run `kassa ARGS...` to completion; raise with its output if it fails."""
    command = [sys.executable, "-m", "kassa", *args]
    result = subprocess.run(
        command,
        env=kassa_env(database_url, env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise KassaProcessError(
            f"`kassa {' '.join(args)}` exited with code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def migrate(database_url: str, *, env: Mapping[str, str] | None = None) -> None:
    run_kassa_cli(["migrate"], database_url, env=env)


def create_organization(
    database_url: str, name: str, *, env: Mapping[str, str] | None = None
) -> OrgCredentials:
    """Create an organization and an all-scopes organization access token."""
    result = run_kassa_cli(
        ["admin", "create-organization", "--name", name, "--json"], database_url, env=env
    )
    payload = _last_json_object(result.stdout)
    if payload is None:
        raise KassaProcessError(
            "`kassa admin create-organization --json` printed no JSON object\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return OrgCredentials(
        organization_id=str(payload["organization_id"]),
        token=str(payload["token"]),
        organization_slug=str(payload.get("organization_slug", "")),
        token_id=str(payload.get("token_id", "")),
    )


def kassa_env(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a Kassa test process: ours, plus test settings, plus `extra`."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "KASSA_SECRET_KEY": TEST_SECRET_KEY,
            "KASSA_ENV": "test",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    if not env.get("KASSA_DATA_DIR"):
        env["KASSA_DATA_DIR"] = tempfile.mkdtemp(prefix="kassa-data-")
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _probe(url: str) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return response.status, f"{response.status}"
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode("utf-8", "replace")
        exc.close()
        return exc.code, f"{exc.code} {body}"
    except (OSError, urllib.error.URLError) as exc:
        return None, repr(exc)


def _popen(
    args: Sequence[str], env: dict[str, str], log_dir: Path | None
) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = _new_log_path(log_dir, f"kassa-{args[0] if args else 'cli'}-")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kassa", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log_path


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the process group led by `process` (it was started in a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _new_log_path(log_dir: Path | None, prefix: str) -> Path:
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".log", dir=log_dir)
    os.close(handle)
    return Path(name)


def _last_json_object(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.strip().splitlines()):
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                return value
    with contextlib.suppress(ValueError):
        value = json.loads(stdout)
        if isinstance(value, dict):
            return value
    return None
