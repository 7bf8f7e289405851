"""A second Flink session cluster, as a remote one is to the pipeline: only its REST address is shared.

It is built in its own directory from the same component definition as the local stack's cluster
(local_stack/conf/flink, rendered with its own ports and paths): its own Python environment with
PyFlink (the "image" a remote cluster would run), its own copy of the connector jars, its own
configuration, logs, checkpoints and savepoints. Nothing it runs reads this checkout or `.venvs/`, so
a job that works on it was shipped whole through the REST API.

Its JobManager and TaskManager are plain child processes (no supervisor): a killed TaskManager stays
dead until the test starts another, as on a cluster whose scheduler replaces a lost pod.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from stack_support import free_ports

REPO = Path(__file__).resolve().parents[2]
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def _render_module():
    spec = importlib.util.spec_from_file_location(
        "render_configs", REPO / "local_stack/bin/render_configs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    assert Path(found).exists(), "uv not found: run `make install`"
    return found


@dataclass
class SecondCluster:
    root: Path
    rest_url: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def python(self) -> str:
        return str(self.root / ".venvs/flink/bin/python")

    @property
    def checkpoints_uri(self) -> str:
        return (self.root / "data/checkpoints").as_uri()

    @property
    def savepoints_uri(self) -> str:
        return (self.root / "data/savepoints").as_uri()

    def _bin(self, name: str) -> str:
        return str(self.root / f".venvs/flink/lib/python{PYTHON_VERSION}/site-packages/pyflink/bin/{name}")

    def _start(self, role: str) -> None:
        log = open(self.root / f"logs/{role}.out", "ab")  # noqa: SIM115 (the child keeps it)
        self.processes[role] = subprocess.Popen(
            [self._bin(f"{role}.sh"), "start-foreground"],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its Python workers die with it
        )

    def taskmanager_ids(self) -> set[str] | None:
        """Ids of the registered TaskManagers; None while the REST API is not answering yet. Right
        after it starts listening it answers ``{"errors": [...]}`` (its leader not elected yet)."""
        try:
            answer = requests.get(f"{self.rest_url}/taskmanagers", timeout=5).json()
        except (requests.RequestException, ValueError):
            return None
        return {tm["id"] for tm in answer["taskmanagers"]} if "taskmanagers" in answer else None

    def start_taskmanager(self, timeout: float = 120) -> None:
        # By id, not by count: a killed TaskManager stays listed until its heartbeat times out, and
        # the new one may register before or after that.
        before = self.taskmanager_ids() or set()
        self._start("taskmanager")
        self._wait(
            lambda: bool((self.taskmanager_ids() or set()) - before), timeout, "a new TaskManager to register"
        )

    def kill_taskmanager(self) -> None:
        """SIGKILL, as a crashed host: no deregistration; the JobManager notices by heartbeat."""
        process = self.processes.pop("taskmanager")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)

    def _wait(self, predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not predicate():
            for role, process in self.processes.items():
                assert process.poll() is None, f"second cluster's {role} exited: see {self.root}/logs"
            assert time.monotonic() < deadline, f"second Flink cluster: no {what} in {timeout:.0f}s"
            time.sleep(1)

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
        self.processes.clear()


@contextlib.contextmanager
def second_flink_cluster(cfg: dict[str, str], root: Path) -> Iterator[SecondCluster]:
    """Builds and starts the cluster under ``root``; kills it afterwards (``root`` stays, for its logs)."""
    venv = root / ".venvs/flink"
    subprocess.run([_uv(), "venv", "-q", "-p", PYTHON_VERSION, str(venv)], check=True, timeout=120)
    subprocess.run(
        [_uv(), "pip", "install", "-q", "-r", str(REPO / "local_stack/requirements/flink.txt")],
        env={**os.environ, "VIRTUAL_ENV": str(venv)},
        check=True,
        timeout=600,
    )
    # Its lib: its own PyFlink's runtime jars plus copies of the connector jars the job's SQL uses.
    own_lib = venv / f"lib/python{PYTHON_VERSION}/site-packages/pyflink/lib"
    lib = root / "lib"
    lib.mkdir(parents=True)
    for jar in Path(cfg["FLINK_LIB_DIR"]).glob("*.jar"):
        ours = own_lib / jar.name
        shutil.copyfile(ours if ours.exists() else jar.resolve(), lib / jar.name)

    rest, rpc, blob, jm_metrics, tm_metrics = free_ports(5)
    render = _render_module()
    values = render.local_values(
        {
            **cfg,
            "REPO": str(root),  # the TaskManagers' Python: <REPO>/.venvs/flink/bin/python
            "DATA_DIR": str(root / "data"),
            "RUN_DIR": str(root / "run"),
            "LOG_DIR": str(root / "logs"),
            "FLINK_REST_PORT": str(rest),
            "FLINK_JM_RPC_PORT": str(rpc),
            "FLINK_BLOB_SERVER_PORT": str(blob),
            "FLINK_JM_METRICS_PORT": str(jm_metrics),
            "FLINK_TM_METRICS_PORT": str(tm_metrics),
            "FLINK_CHECKPOINTS_URI": (root / "data/checkpoints").as_uri(),
            "FLINK_SAVEPOINTS_URI": (root / "data/savepoints").as_uri(),
            "FLINK_JM_PROCESS_MEMORY": "768m",
            "FLINK_TM_PROCESS_MEMORY": "2048m",
            "FLINK_TM_SLOTS": "1",
        }
    )
    flink_sources = {rel: src for rel, src in render.local_sources().items() if rel.startswith("flink/")}
    render.render(flink_sources, values, root / "conf")
    for sub in ("logs/flink", "data/flink/tmp", "data/flink/uploads", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{venv}/bin:/usr/bin:/bin",
        "HOME": str(root),
        "JAVA_HOME": os.environ.get("JAVA_HOME", ""),
        "FLINK_CONF_DIR": str(root / "conf/flink"),
        "FLINK_LIB_DIR": str(lib),
        "FLINK_LOG_DIR": str(root / "logs/flink"),
    }
    cluster = SecondCluster(root, f"http://{cfg['BIND_HOST']}:{rest}", {k: v for k, v in env.items() if v})
    try:
        cluster._start("jobmanager")
        cluster._wait(lambda: cluster.taskmanager_ids() is not None, 120, "REST API")
        cluster.start_taskmanager()
        yield cluster
    finally:
        cluster.stop()
