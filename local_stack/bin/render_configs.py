"""Renders the one definition of each stack component for a target.

Definitions: local_stack/conf/ (``*.tmpl`` files are templates, the others are copied as they are)
and local_stack/monitoring/ (alert rules and Grafana dashboards, all templates). ``${NAME}`` is a
setting of include/config.py or a per-target value: where a component reaches the others (hosts),
ports and paths. Targets:

- ``local`` (the default, run by ``make up``): every definition into $RUN_DIR/conf/, with the values
  lib.sh exports (the settings, as .env sets them; every component on BIND_HOST).
- ``compose``: what docker-compose.yaml mounts, into local_stack/docker/ (committed), with the
  defaults of include/config.py, the compose service names and the containers' paths.
- ``kubernetes``: the Flink session cluster as a Flink Kubernetes Operator ``FlinkDeployment``, into
  local_stack/kubernetes/ (committed): the Flink definition rendered as for compose, minus what the
  operator owns (addresses, ports, paths of one host), on the compose Flink image.

Rendering fails on an unknown ``${NAME}`` so a typo never reaches a running service. Only that braced
form is replaced: the ``$labels`` and ``$value`` of an alert's Go template stay as written.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import ModuleType

STACK = Path(__file__).resolve().parent.parent
REPO = STACK.parent
CONF = STACK / "conf"
MONITORING = STACK / "monitoring"
DOCKER = STACK / "docker"
NAME_PATTERN = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

# Where the other components reach each one. The local stack runs them all on BIND_HOST (except
# PG_HOST and REDIS_HOST, settings that may name servers elsewhere); compose runs each as a service.
SERVICE_HOSTS = {
    "PG_HOST": "postgres",
    "REDIS_HOST": "redis",
    "PROMETHEUS_HOST": "prometheus",
    "ALERTMANAGER_HOST": "alertmanager",
    "KAFKA_JMX_EXPORTER_HOST": "kafka",
    "FLINK_JM_HOST": "flink-jobmanager",
    "FLINK_TM_HOST": "flink-taskmanager",
    "POSTGRES_EXPORTER_HOST": "postgres-exporter",
    "REDIS_EXPORTER_HOST": "redis-exporter",
    "PIPELINE_EXPORTER_HOST": "pipeline-exporter",
    "PUSHGATEWAY_HOST": "pushgateway",
}
# The containers' listen address and paths (the local stack's are BIND_HOST, DATA_DIR and the checkout).
COMPOSE_PATHS = {
    "BIND_HOST": "0.0.0.0",
    "DATA_DIR": "/data",  # the pipeline-data volume of the Airflow and Flink containers
    "LOG_DIR": "/data/logs",
    "RUN_DIR": "/tmp",
    "REPO": "/opt/adevents",  # ADEVENTS_HOME of the images
    "REDIS_DIR": "/data",  # the redis-data volume
    "SLACK_WEBHOOK_URL_FILE": "/tmp/slack_webhook_url",  # written by the alertmanager service
}


class UnknownName(KeyError):
    pass


@cache
def config() -> ModuleType:
    """include/config.py (standard library only), whatever sys.path is."""
    spec = importlib.util.spec_from_file_location("adevents_config_for_render", REPO / "include/config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _rules() -> dict[str, Path]:
    # Next to prometheus.yml, which loads them by a relative glob (rule_files: *.rules.yml).
    return {f"prometheus/{p.stem}.rules.yml": p for p in sorted((MONITORING / "rules").glob("*.yml"))}


def local_sources() -> dict[str, Path]:
    """Output path under $RUN_DIR/conf -> definition."""
    conf = {
        str(p.relative_to(CONF).with_suffix("") if p.suffix == ".tmpl" else p.relative_to(CONF)): p
        for p in sorted(CONF.rglob("*"))
        if p.is_file()
    }
    return conf | _rules()


def compose_sources() -> dict[str, Path]:
    """Output path under local_stack/docker -> definition: the files docker-compose.yaml mounts."""
    files = {
        "prometheus/prometheus.yml": CONF / "prometheus/prometheus.yml.tmpl",
        "alertmanager/alertmanager.yml": CONF / "alertmanager/alertmanager.yml.tmpl",
        "flink/conf/config.yaml": CONF / "flink/config.yaml.tmpl",
        "redis/redis.conf": CONF / "redis/redis.conf.tmpl",
    }
    dashboards = sorted((MONITORING / "dashboards").glob("*.json"))
    return files | _rules() | {f"grafana/dashboards/{p.name}": p for p in dashboards}


def local_values(env: Mapping[str, str]) -> dict[str, str]:
    """The local stack's values: the settings and paths lib.sh exports, every component on BIND_HOST."""
    values = dict(env)
    values.setdefault("REPO", str(REPO))
    values.setdefault("STACK", str(STACK))
    values.setdefault("RUN_DIR", f"{values['DATA_DIR']}/run")
    values.setdefault("LOG_DIR", f"{values['DATA_DIR']}/logs")
    values["REDIS_DIR"] = f"{values['DATA_DIR']}/redis"
    values["SLACK_WEBHOOK_URL_FILE"] = f"{values['RUN_DIR']}/conf/alertmanager/slack_webhook_url"
    settings = {s.name for s in config().SETTINGS}
    values.update({name: values["BIND_HOST"] for name in SERVICE_HOSTS.keys() - settings})
    # Built from the settings (lib.sh exports them too): the PostgreSQL clients' TLS parameters.
    for name, value in config().derived_settings(values).items():
        values.setdefault(name, value)
    return values


def compose_values() -> dict[str, str]:
    """Compose's values: include/config.py's defaults (ports too: the containers listen on them),
    then the service names and the containers' paths."""
    defaults = config().resolve({"DATA_DIR": COMPOSE_PATHS["DATA_DIR"]})
    return {**defaults, **COMPOSE_PATHS, **SERVICE_HOSTS}


def is_template(src: Path) -> bool:
    return src.suffix == ".tmpl" or MONITORING in src.parents


def substitute(src: Path, values: Mapping[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise UnknownName(f"{src.relative_to(REPO)} uses ${{{m.group(1)}}}, which no setting defines")
        return values[m.group(1)]

    return NAME_PATTERN.sub(value, src.read_text())


def uses_secret(src: Path) -> bool:
    """The definition names a secret setting (a password, a key, the Slack webhook URL)."""
    secrets = {s.name for s in config().SETTINGS if s.secret}
    return is_template(src) and bool(secrets & set(NAME_PATTERN.findall(src.read_text())))


def render(
    sources: Mapping[str, Path], values: Mapping[str, str], out: Path, private_secrets: bool = False
) -> list[Path]:
    """Renders ``sources`` into ``out``; with ``private_secrets`` a file holding a secret is created
    with mode 0600 (the others stay readable: PostgreSQL reads its config as its own user)."""
    written = []
    for rel, src in sources.items():
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if is_template(src) and private_secrets and uses_secret(src):
            config().write_private(dst, substitute(src, values))
        elif is_template(src):
            dst.write_text(substitute(src, values))
        else:
            shutil.copyfile(src, dst)
        written.append(dst)
    return written


KUBERNETES = STACK / "kubernetes"
KUBERNETES_MANIFEST = KUBERNETES / "flink-session-cluster.yaml"
# Keys of the Flink definition the operator sets itself (addresses, ports, the process sizes from
# the pod resources) or that name one host's paths; everything else is kept as the local stack has it.
_OPERATOR_OWNED = re.compile(
    r"^(env\.(log|pid)\.|jobmanager\.(bind-host|rpc\.|memory\.process|archive\.)|"
    r"taskmanager\.(bind-host|host|memory\.process)|rest\.|blob\.|io\.tmp|web\.upload|"
    r"python\.client\.|metrics\.reporter\.prom\.port)"
)


def _flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return flat


def kubernetes_flink_configuration(values: Mapping[str, str]) -> dict[str, str]:
    """The Flink definition (conf/flink/config.yaml.tmpl) as flat keys, without the operator's."""
    import yaml  # only this target needs it (the local and compose targets are standard library)

    rendered = yaml.safe_load(substitute(CONF / "flink/config.yaml.tmpl", values))
    flat = {k: v for k, v in _flatten(rendered).items() if not _OPERATOR_OWNED.match(k)}
    return flat | {"metrics.reporter.prom.port": values["FLINK_JM_METRICS_PORT"]}


# What a Kubernetes deployment sets when it renders its own manifest (the committed one has the defaults):
# pod-local file:// state is lost with the pod, so production names shared storage (s3://...).
KUBERNETES_SETTINGS = (
    "FLINK_CHECKPOINTS_URI",
    "FLINK_SAVEPOINTS_URI",
    "FLINK_TM_SLOTS",
    "FLINK_JM_PROCESS_MEMORY",
    "FLINK_TM_PROCESS_MEMORY",
)


def kubernetes_values(env: Mapping[str, str]) -> dict[str, str]:
    """Compose's values (the same image and container paths), with the settings of
    KUBERNETES_SETTINGS that ``env`` sets."""
    return compose_values() | {name: env[name] for name in KUBERNETES_SETTINGS if env.get(name)}


def kubernetes_manifest(values: Mapping[str, str]) -> str:
    import yaml

    deployment = {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": "adevents-flink"},
        "spec": {
            # local_stack/docker/flink/Dockerfile: Flink, the connector jars, PyFlink at python.executable.
            "image": "adevents/flink:2.0.2",
            "flinkVersion": "v2_0",
            "serviceAccount": "flink",
            "flinkConfiguration": kubernetes_flink_configuration(values),
            "jobManager": {"resource": {"memory": values["FLINK_JM_PROCESS_MEMORY"], "cpu": 1}},
            "taskManager": {"resource": {"memory": values["FLINK_TM_PROCESS_MEMORY"], "cpu": 2}},
        },
    }
    header = (
        "# Rendered by local_stack/bin/render_configs.py --target kubernetes from\n"
        "# local_stack/conf/flink/config.yaml.tmpl: never edit it. A session cluster (no `job`): Airflow\n"
        "# submits and operates the streaming job through its REST service, adevents-flink-rest:8081\n"
        "# (FLINK_REST_URL). docs/scale-out.md says what to set before applying it.\n"
    )
    return header + yaml.safe_dump(deployment, sort_keys=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("local", "compose", "kubernetes"), default="local")
    args = parser.parse_args(argv)
    try:
        if args.target == "local":
            out = Path(os.environ["RUN_DIR"]) / "conf"
            files = render(local_sources(), local_values(os.environ), out, private_secrets=True)
        elif args.target == "kubernetes":
            out = KUBERNETES
            out.mkdir(exist_ok=True)
            KUBERNETES_MANIFEST.write_text(kubernetes_manifest(kubernetes_values(os.environ)))
            files = [KUBERNETES_MANIFEST]
        else:
            out = DOCKER
            files = render(compose_sources(), compose_values(), out)
    except UnknownName as exc:
        sys.exit(f"render_configs: {exc.args[0]}")
    print(f"rendered {len(files)} config files into {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
