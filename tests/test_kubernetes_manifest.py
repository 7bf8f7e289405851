"""The Flink Kubernetes Operator manifest: rendered from the one Flink definition, current, no drift.

No Kubernetes runs here: the manifest is checked against the local stack's rendered Flink
configuration (the cluster every other test runs on) and against the compose image it names.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import yaml

REPO = Path(__file__).resolve().parent.parent


def _render() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_configs_for_k8s_test", REPO / "local_stack/bin/render_configs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


RENDER = _render()
MANIFEST = yaml.safe_load(RENDER.KUBERNETES_MANIFEST.read_text())
# Values that are paths of the container image or of one host, not behaviour.
PATHS = {"python.executable", "state.checkpoints.dir", "state.savepoints.dir"}


def test_the_committed_manifest_is_current() -> None:
    assert RENDER.KUBERNETES_MANIFEST.read_text() == RENDER.kubernetes_manifest(
        RENDER.kubernetes_values({})
    ), (
        "local_stack/kubernetes/flink-session-cluster.yaml is stale: run "
        ".venvs/airflow/bin/python local_stack/bin/render_configs.py --target kubernetes"
    )


def test_it_configures_flink_as_the_local_cluster_every_test_runs_on() -> None:
    local = RENDER.kubernetes_flink_configuration(RENDER.local_values(RENDER.config().resolve({})))
    ours = MANIFEST["spec"]["flinkConfiguration"]
    assert set(ours) == set(local)
    assert {k: v for k, v in ours.items() if k not in PATHS} == {
        k: v for k, v in local.items() if k not in PATHS
    }
    for key in (
        "state.backend.type",
        "execution.checkpointing.mode",
        "restart-strategy.type",
        "env.java.opts.all",
    ):
        assert key in ours, key


def test_it_leaves_addresses_and_host_paths_to_the_operator() -> None:
    conf = MANIFEST["spec"]["flinkConfiguration"]
    assert not [k for k in conf if k.startswith(("rest.", "jobmanager.rpc.", "taskmanager.host", "env.log."))]
    assert all(isinstance(v, str) for v in conf.values()), "the operator takes string values"
    assert str(REPO) not in RENDER.KUBERNETES_MANIFEST.read_text()


def test_a_session_cluster_on_the_compose_flink_image() -> None:
    spec = MANIFEST["spec"]
    assert MANIFEST["kind"] == "FlinkDeployment" and "job" not in spec
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    assert spec["image"] == compose["x-flink-common"]["image"]
    python = spec["flinkConfiguration"]["python.executable"]
    assert python == "/opt/adevents/.venvs/flink/bin/python"
    assert "/opt/adevents/.venvs/flink" in (REPO / "local_stack/docker/flink/Dockerfile").read_text()
    assert spec["jobManager"]["resource"]["memory"] == RENDER.compose_values()["FLINK_JM_PROCESS_MEMORY"]


def test_a_deployment_renders_its_own_storage_and_sizes() -> None:
    values = RENDER.kubernetes_values(
        {"FLINK_CHECKPOINTS_URI": "s3://bucket/ck", "FLINK_TM_SLOTS": "8", "PATH": "/bin"}
    )
    conf = yaml.safe_load(RENDER.kubernetes_manifest(values))["spec"]["flinkConfiguration"]
    assert conf["state.checkpoints.dir"] == "s3://bucket/ck" and conf["taskmanager.numberOfTaskSlots"] == "8"
