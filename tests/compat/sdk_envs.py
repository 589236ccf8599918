"""The per-generation SDK environments and running driver scripts inside them.

`polar-sdk` 1.0.x and 0.32.0 share a distribution name, so each generation gets
its own cached virtual environment, built by `scripts/compat-envs.sh`.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVS_SCRIPT = REPO_ROOT / "scripts" / "compat-envs.sh"
DRIVERS_DIR = Path(__file__).resolve().parent / "drivers"
GENERATIONS = ("1.0", "0.32")
DRIVER_SUFFIX = {"1.0": "v1", "0.32": "v032"}
BUILD_TIMEOUT = 600.0
DRIVER_TIMEOUT = 300.0


def cache_dir() -> Path:
    return Path(os.environ.get("KASSA_COMPAT_CACHE", REPO_ROOT / ".cache" / "compat"))


def sdk_python(generation: str) -> Path:
    """The interpreter of `generation`'s SDK environment, built first if needed.

    The build script is a fast no-op when the environment already holds the
    pinned SDK; a lock keeps parallel test workers from building it twice.
    """
    if generation not in GENERATIONS:
        raise ValueError(f"unknown SDK generation {generation!r}; expected one of {GENERATIONS}")
    root = cache_dir()
    python = root / f"polar-{generation}" / "bin" / "python"
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            ["bash", str(ENVS_SCRIPT), generation],
            env={"KASSA_COMPAT_PYTHON": sys.executable, **os.environ},
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    if result.returncode != 0 or not python.exists():
        raise RuntimeError(
            f"building the polar-sdk {generation} environment failed "
            f"(exit {result.returncode})\n{result.stdout}\n{result.stderr}"
        )
    return python


@dataclass(frozen=True)
class DriverRun:
    script: Path
    returncode: int
    stdout: str
    stderr: str

    def report(self) -> str:
        return (
            f"driver {self.script.name} exited with {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def run_driver(
    generation: str, scenario: str, env: Mapping[str, str], *, timeout: float = DRIVER_TIMEOUT
) -> DriverRun:
    """Run `drivers/<scenario>_<v1|v032>.py` with the generation's interpreter."""
    script = DRIVERS_DIR / f"{scenario}_{DRIVER_SUFFIX[generation]}.py"
    if not script.exists():
        raise FileNotFoundError(script)
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV"))
    }
    child_env.update(env)
    command = [str(sdk_python(generation)), str(script)]
    try:
        result = subprocess.run(
            command,
            cwd=DRIVERS_DIR,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return DriverRun(
            script,
            -1,
            _text(exc.stdout),
            f"{_text(exc.stderr)}\ndriver killed after {timeout:.0f}s without finishing",
        )
    return DriverRun(script, result.returncode, result.stdout, result.stderr)


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""
