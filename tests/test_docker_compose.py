"""Static checks of docker-compose.yaml and the files under local_stack/docker/.

No Docker engine is needed (none runs on the development machines or in CI): the file is parsed
with PyYAML and checked against the repository. Where the ``docker compose`` plugin is installed,
``docker compose config -q`` validates it against the Compose schema as well. Each component has one
definition for both stacks: the compose configuration files are renderings of the local stack's
templates (local_stack/bin/render_configs.py), checked to be current and to differ from the local
renderings only in hosts, ports and paths.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yaml"
DOCKER_DIR = REPO / "local_stack" / "docker"
INIT_ENV = DOCKER_DIR / "init-env.sh"

# Services that run once and exit (no health check; dependents wait for their success).
ONE_SHOT = {"postgres-init", "kafka-jmx-agent", "airflow-init"}
REQUIRED = {
    "postgres",
    "redis",
    "kafka",
    "schema-registry",
    "flink-jobmanager",
    "flink-taskmanager",
    "airflow-init",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "prometheus",
    "alertmanager",
    "grafana",
    "metabase",
    "streamlit",
}
# Variables compose reads that include/config.py does not declare (documented in the README).
COMPOSE_ONLY_SECRETS = {
    "PG_SUPERUSER_PASSWORD",
    "PG_METRICS_EXPORTER_PASSWORD",
    "METABASE_DB_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
}
COMPOSE_ONLY_SETTINGS = {
    "GRAFANA_PORT": "3000",
    "METABASE_PORT": "3001",
    "AIRFLOW_UID": "50000",
    "DOCKER_SLACK_WEBHOOK_BASE": "http://slack-sink:8099",
    "DOCKER_SLACK_WEBHOOK_PATH": "services/local-slack",
}
# Host values of .env that must never reach a container (they point at 127.0.0.1).
HOST_ONLY_SETTINGS = {
    "PG_HOST",
    "REDIS_HOST",
    "KAFKA_BOOTSTRAP_SERVERS",
    "SCHEMA_REGISTRY_URL",
    "FLINK_REST_URL",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|_PASS$")
MEMORY_BUDGET = 20 * 1024**3  # of a 24 GB machine: the rest is for the OS, Docker and page cache

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME; $$ escapes.
_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)


def _load_module(name: str, path: Path) -> ModuleType:
    """A standard-library-only module of the repository, loaded from its path, whatever sys.path is."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


CONFIG = _load_module("adevents_config_for_compose_test", REPO / "include/config.py")
RENDER = _load_module("adevents_render_configs_for_compose_test", REPO / "local_stack/bin/render_configs.py")
SETTINGS = {s.name: s for s in CONFIG.SETTINGS}
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
LONG_RUNNING = sorted(set(SERVICES) - ONE_SHOT)


def _params(names: list[str] | set[str]) -> list[Any]:
    return [pytest.param(name, id=name) for name in sorted(names)]


def _refs(value: str) -> list[re.Match[str]]:
    return [m for m in _VAR.finditer(value) if m.group(0) != "$$"]


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one string (the subset this file uses)."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg = m.group("op") or "", m.group("arg") or ""
        current = env.get(name)
        if (op in (":-", ":?") and not current) or (op in ("-", "?") and current is None):
            if op.endswith("?"):
                raise ValueError(f"{name}: {arg}")
            return arg
        return current or ""

    return _VAR.sub(repl, value)


def _strings(node: Any) -> list[str]:
    """Every string (keys and values) of a parsed YAML tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def _dummy_env() -> dict[str, str]:
    """Every secret the compose file requires, with a placeholder value."""
    return {name: f"dummy-{name.lower()}" for name in _required_variables()}


def _required_variables() -> set[str]:
    return {
        m.group("name") for s in _strings(COMPOSE) for m in _refs(s) if (m.group("op") or "").endswith("?")
    }


def _bytes(size: str | int) -> int:
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)b?", str(size).strip().lower())
    assert m, f"unreadable memory size {size!r}"
    return int(float(m.group(1)) * 1024 ** " kmg".index(m.group(2) or " "))


def _memory_limit(service: dict[str, Any]) -> int | None:
    limit = service.get("mem_limit") or (
        service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
    )
    return _bytes(limit) if limit else None


def _pom_properties(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = root.find("m:properties", ns)
    assert props is not None, f"{path}: no <properties>"
    return {child.tag.split("}", 1)[1]: (child.text or "").strip() for child in props}


def _pom_flink_lib_artifacts(path: Path) -> list[tuple[str, str, str]]:
    """(group, artifact, version) of the pom's artifactItems copied into flink-lib."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = _pom_properties(path)
    items = []
    for item in ET.parse(path).getroot().iterfind(".//m:artifactItem", ns):
        field = {child.tag.split("}", 1)[1]: (child.text or "").strip() for child in item}
        if field.get("outputDirectory", "").endswith("/flink-lib"):
            version = re.sub(r"\$\{([^}]+)\}", lambda m: props[m.group(1)], field["version"])
            items.append((field["groupId"], field["artifactId"], version))
    return items


def _dockerfile_args(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG\s+(\w+)=(\S+)", path.read_text(), flags=re.MULTILINE))


def _pinned(requirements: Path, package: str) -> str:
    m = re.search(rf"^{re.escape(package)}(?:\[[^\]]*\])?==([^\s;#]+)", requirements.read_text(), re.M | re.I)
    assert m, f"{requirements}: {package} is not pinned with =="
    return m.group(1)


def _build_dockerfile(service: dict[str, Any]) -> tuple[Path, Path]:
    build = service["build"]
    context = REPO / (build if isinstance(build, str) else build.get("context", "."))
    dockerfile = context / (
        build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
    )
    return context, dockerfile


# ------------------------------------------------------------------------------ services


def test_required_services_are_present() -> None:
    missing = REQUIRED - set(SERVICES)
    assert not missing, f"docker-compose.yaml lacks {sorted(missing)}"


def test_one_shot_services_are_exactly_those_without_health_check() -> None:
    without = {name for name, svc in SERVICES.items() if "healthcheck" not in svc}
    assert without == ONE_SHOT, "only the one-shot init services may go without a health check"


@pytest.mark.parametrize("name", _params(SERVICES))
def test_image_is_pinned_or_built(name: str) -> None:
    service = SERVICES[name]
    assert "image" in service or "build" in service, f"{name}: neither image nor build"
    if "build" in service:
        context, dockerfile = _build_dockerfile(service)
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
    if "image" in service:
        image = service["image"]
        assert "$" not in image, f"{name}: image {image!r} must not come from a variable"
        repo, sep, tag = image.rpartition(":")
        assert sep and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} is not pinned"
        assert re.search(r"\d", tag), f"{name}: tag of {image!r} names no version"


@pytest.mark.parametrize("name", _params(SERVICES))
def test_published_ports_bind_loopback_with_config_defaults(name: str) -> None:
    for port in SERVICES[name].get("ports", []):
        if isinstance(port, dict):
            assert port.get("host_ip") == "127.0.0.1", f"{name}: {port} is not bound to 127.0.0.1"
            published = str(port.get("published", ""))
        else:
            assert str(port).startswith("127.0.0.1:"), f"{name}: port {port!r} is not bound to 127.0.0.1"
            published = str(port)[len("127.0.0.1:") :].rsplit(":", 1)[0]
        for m in _refs(published):
            var, default = m.group("name"), m.group("arg")
            assert m.group("op") == ":-", f"{name}: published port {published!r} needs a ${{{var}:-default}}"
            expected = SETTINGS[var].default if var in SETTINGS else COMPOSE_ONLY_SETTINGS.get(var)
            assert expected is not None, f"{name}: port variable {var} is neither in config.py nor documented"
            assert (
                default == expected
            ), f"{name}: {var} defaults to {default}, include/config.py says {expected}"


@pytest.mark.parametrize("name", _params(LONG_RUNNING))
def test_health_check_really_checks(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert not check.get("disable"), f"{name}: health check disabled"
    test = check["test"]
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    assert test[0] in ("CMD", "CMD-SHELL"), f"{name}: health check {test!r}"
    command = " ".join(str(part) for part in test[1:])
    assert command.strip() not in (
        "",
        "true",
        "exit 0",
        ":",
    ), f"{name}: health check {command!r} checks nothing"
    assert "|| true" not in command and "|| exit 0" not in command, f"{name}: {command!r} can never fail"
    for key in ("interval", "timeout", "retries"):
        assert key in check, f"{name}: health check without {key}"


@pytest.mark.parametrize("name", _params(SERVICES))
def test_restart_policy(name: str) -> None:
    restart = SERVICES[name].get("restart")
    if name in ONE_SHOT:
        assert restart == "no" or str(restart).startswith(
            "on-failure"
        ), f"{name}: one-shot restarts {restart!r}"
    else:
        assert restart in ("unless-stopped", "always"), f"{name}: restart is {restart!r}"


@pytest.mark.parametrize("name", _params(SERVICES))
def test_memory_limit(name: str) -> None:
    limit = _memory_limit(SERVICES[name])
    assert limit, f"{name}: no memory limit"
    assert limit >= 32 * 1024**2, f"{name}: memory limit {limit} bytes is too small to be real"


def test_memory_limits_fit_the_machine() -> None:
    running = sum(_memory_limit(SERVICES[name]) or 0 for name in LONG_RUNNING)
    biggest_one_shot = max(_memory_limit(SERVICES[name]) or 0 for name in ONE_SHOT)
    total = running + biggest_one_shot
    assert total <= MEMORY_BUDGET, f"memory limits add up to {total / 1024**3:.1f} GiB (budget 20 GiB)"


@pytest.mark.parametrize("name", _params(SERVICES))
def test_depends_on_targets(name: str) -> None:
    depends = SERVICES[name].get("depends_on") or {}
    if isinstance(depends, list):
        depends = {target: {"condition": "service_started"} for target in depends}
    for target, spec in depends.items():
        assert target in SERVICES, f"{name} depends on unknown service {target}"
        condition = (spec or {}).get("condition", "service_started")
        if condition == "service_healthy":
            assert (
                "healthcheck" in SERVICES[target]
            ), f"{name} waits for {target} to be healthy: it has no check"
        elif condition == "service_completed_successfully":
            assert target in ONE_SHOT, f"{name} waits for {target} to complete: it is no one-shot service"
        if target in ONE_SHOT:
            assert (
                condition == "service_completed_successfully"
            ), f"{name} must wait for one-shot {target} to succeed"


def test_depends_on_has_no_cycle() -> None:
    def deps(name: str) -> list[str]:
        return list(SERVICES[name].get("depends_on") or [])

    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in done:
            return
        assert name not in visiting, f"depends_on cycle: {' -> '.join([*path, name])}"
        visiting.add(name)
        for target in deps(name):
            visit(target, [*path, name])
        visiting.discard(name)
        done.add(name)

    for name in SERVICES:
        visit(name, [])


@pytest.mark.parametrize("name", _params(SERVICES))
def test_mounted_paths_exist_and_volumes_are_declared(name: str) -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for volume in SERVICES[name].get("volumes", []):
        if isinstance(volume, dict):
            kind, source = volume.get("type", "volume"), str(volume.get("source", ""))
        else:
            source = str(volume).split(":", 1)[0]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if kind == "bind":
            assert source.startswith(
                "./"
            ), f"{name}: bind mount {source!r} must be a path inside the repository"
            assert (REPO / source).exists(), f"{name}: bind-mounted {source} does not exist in the repository"
        elif kind == "volume":
            assert source in declared, f"{name}: named volume {source!r} is not declared under volumes:"


# ------------------------------------------------------------------------------ settings and secrets


@pytest.mark.parametrize("name", _params(SERVICES))
def test_no_literal_secrets(name: str) -> None:
    for key, value in _environment(SERVICES[name]).items():
        # A *_FILE setting names where a secret is, not the secret.
        if not SECRET_NAME.search(key) or key.endswith("_FILE") or value is None:
            continue
        refs = _refs(str(value))
        assert refs and refs[0].group(0) == str(value), f"{name}: {key} must be a single ${{...}} reference"
        assert (
            refs[0].group("op") == ":?"
        ), f"{name}: secret {key} must be required (${{NAME:?...}}), no default"


def test_no_password_written_into_uris() -> None:
    dummy = _dummy_env()
    for text in _strings(COMPOSE):
        resolved = _interpolate(text, dummy)
        for m in re.finditer(r"://[^\s:/@'\"]+:([^\s@'\"]+)@", resolved):
            assert m.group(1) in dummy.values(), f"password in {text!r} is not a required ${{...}} reference"


def test_secrets_have_no_default() -> None:
    secrets = {n for n, s in SETTINGS.items() if s.secret and n != "SLACK_WEBHOOK_URL"} | COMPOSE_ONLY_SECRETS
    for text in _strings(COMPOSE):
        for m in _refs(text):
            name = m.group("name") or m.group("bare")
            if name in secrets:
                assert m.group("op") in (None, ":?"), f"secret {name} has a default in {text!r}"


def test_every_variable_is_a_config_setting_or_documented() -> None:
    known = set(SETTINGS) | COMPOSE_ONLY_SECRETS | set(COMPOSE_ONLY_SETTINGS)
    used = {m.group("name") or m.group("bare") for s in _strings(COMPOSE) for m in _refs(s)}
    unknown = used - known
    assert (
        not unknown
    ), f"variables neither in include/config.py nor documented compose-only: {sorted(unknown)}"
    readme = (DOCKER_DIR / "README.md").read_text()
    for name in COMPOSE_ONLY_SECRETS | set(COMPOSE_ONLY_SETTINGS):
        assert (
            name in readme
        ), f"compose-only variable {name} is not documented in local_stack/docker/README.md"


@pytest.mark.parametrize("name", _params(SERVICES))
def test_host_addresses_of_env_never_reach_containers(name: str) -> None:
    env = _environment(SERVICES[name])
    for key in HOST_ONLY_SETTINGS & set(env):
        value = str(env[key])
        assert value and not _refs(value), f"{name}: {key} must be the compose address, not .env's host value"
        assert "127.0.0.1" not in value and "localhost" not in value, f"{name}: {key}={value}"
    for key, value in env.items():
        if value is None:
            assert key in SETTINGS, f"{name}: pass-through {key} is not a setting of include/config.py"
            assert key not in HOST_ONLY_SETTINGS, f"{name}: {key} would pass .env's host address through"


def test_init_env_generates_every_required_secret() -> None:
    script = INIT_ENV.read_text()
    missing = {name for name in _required_variables() if not re.search(rf"\b{name}\b", script)}
    assert not missing, f"local_stack/docker/init-env.sh does not generate {sorted(missing)}"
    assert os.access(INIT_ENV, os.X_OK), "init-env.sh must be executable"


def test_airflow_connections_match_config_and_point_at_services() -> None:
    env = _environment(COMPOSE["x-airflow-common"])
    ours = {key for key in env if key.startswith("AIRFLOW_CONN_")}
    expected = set(CONFIG.airflow_connections(CONFIG.resolve({})))
    assert ours == expected, f"AIRFLOW_CONN_* differ from include/config.py: {sorted(ours ^ expected)}"
    dummy = _dummy_env()
    for key in sorted(ours):
        value = _interpolate(str(env[key]), dummy)
        if value.startswith("{"):
            conn = json.loads(value)
            host = conn.get("host") or conn["extra"]["bootstrap.servers"]
        else:
            host = value
        m = re.search(r"^(?:\w+://)?(?:[^@/]*@)?([\w.-]+)", host)
        assert m, f"{key}: no host in {value!r}"
        assert m.group(1) in SERVICES, f"{key} points at {m.group(1)!r}, not a compose service"


def test_airflow_services_share_one_image_and_the_code_mounts() -> None:
    airflow = [name for name in SERVICES if name.startswith("airflow-")]
    assert {SERVICES[name]["image"] for name in airflow} == {COMPOSE["x-airflow-common"]["image"]}
    for name in airflow:
        targets = {str(v).split(":")[1] for v in SERVICES[name]["volumes"] if str(v).startswith("./")}
        assert {"/opt/adevents/dags", "/opt/adevents/include", "/opt/adevents/plugins"} <= targets, name


# ------------------------------------------------------------------------------ versions


FETCH_JARS = DOCKER_DIR / "flink" / "fetch-connector-jars.sh"


def _assert_fetches_the_flink_lib_jars(args: dict[str, str]) -> None:
    """Every jar the local stack puts into Flink's lib (connectors, the Parquet format) is in the
    images' one download list, at the pom's version under the image's ARGs."""
    text = FETCH_JARS.read_text()
    jars = _pom_flink_lib_artifacts(REPO / "local_stack/jvm/pom.xml")
    assert {"flink-sql-connector-kafka", "flink-parquet"} <= {artifact for _, artifact, _ in jars}
    for group, artifact, version in jars:
        m = re.search(
            rf'"{re.escape(group.replace(".", "/"))}/{re.escape(artifact)}/\$\{{(\w+)\}}/{re.escape(artifact)}-\$\{{\1\}}\.jar"',
            text,
        )
        assert m, f"{FETCH_JARS.name} does not download {group}:{artifact} (local_stack/jvm/pom.xml)"
        assert (
            args.get(m.group(1)) == version
        ), f"{artifact}: {m.group(1)}={args.get(m.group(1))}, the pom says {version}"


def test_flink_dockerfile_agrees_with_flink_txt_and_pom() -> None:
    dockerfile = DOCKER_DIR / "flink" / "Dockerfile"
    args = _dockerfile_args(dockerfile)
    pom = _pom_properties(REPO / "local_stack/jvm/pom.xml")
    pyflink = _pinned(REPO / "local_stack/requirements/flink.txt", "apache-flink")
    assert args["PYFLINK_VERSION"] == pyflink
    assert re.search(
        rf"^FROM flink:{re.escape(pyflink)}-java17\s*$", dockerfile.read_text(), re.M
    ), "the Flink image must be the same Flink version as PyFlink"
    text = dockerfile.read_text()
    _assert_fetches_the_flink_lib_jars(args)
    assert "fetch-connector-jars.sh" in text
    assert '"apache-flink==${PYFLINK_VERSION}"' in text
    # The connector builds name the Flink minor they target (4.0.1-2.0 -> Flink 2.0).
    flink_minor = ".".join(pyflink.split(".")[:2])
    for prop in ("flink.kafka.connector.version", "flink.jdbc.connector.version"):
        assert pom[prop].endswith(
            f"-{flink_minor}"
        ), f"{prop}={pom[prop]} is not built for Flink {flink_minor}"


def test_images_agree_with_the_poms() -> None:
    pom = _pom_properties(REPO / "local_stack/jvm/pom.xml")
    kafka = _pom_properties(REPO / "local_stack/jvm/kafka/pom.xml")
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka['kafka.version']}"
    assert SERVICES["schema-registry"]["image"] == f"apicurio/apicurio-registry:{pom['apicurio.version']}"
    assert _environment(SERVICES["kafka-jmx-agent"])["JMX_EXPORTER_VERSION"] == pom["jmx.exporter.version"]
    kafka_opts = _environment(SERVICES["kafka"])["KAFKA_OPTS"]
    assert "-javaagent:/opt/jmx-exporter/agent/jmx_prometheus_javaagent.jar=9404:" in kafka_opts


def test_airflow_dockerfile_agrees_with_requirements() -> None:
    dockerfile = DOCKER_DIR / "airflow" / "Dockerfile"
    text = dockerfile.read_text()
    airflow = _pinned(REPO / "requirements.txt", "apache-airflow")
    python = re.search(r'requires-python\s*=\s*">=(\d+\.\d+)', (REPO / "pyproject.toml").read_text())
    assert python, "pyproject.toml: requires-python"
    assert re.search(rf"^FROM apache/airflow:{re.escape(airflow)}-python{python.group(1)}\s*$", text, re.M)
    assert _dockerfile_args(dockerfile)["AIRFLOW_VERSION"] == airflow
    assert COMPOSE["x-airflow-common"]["image"].endswith(f":{airflow}")
    for needed in ("requirements.txt", "airflow.lock", "dbt.txt"):
        assert needed in text, f"the Airflow image does not install {needed}"


def test_airflow_image_can_deploy_the_flink_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tasks that submit the job run `flink run` in the Airflow image: it installs what the
    settings' defaults name under ADEVENTS_HOME (the client, its Python, the connector jars, a JDK
    with javac for the format jar), at the Flink image's versions, and mounts the Flink config."""
    dockerfile = DOCKER_DIR / "airflow" / "Dockerfile"
    text = dockerfile.read_text()
    args = _dockerfile_args(dockerfile)
    assert args["PYFLINK_VERSION"] == _pinned(REPO / "local_stack/requirements/flink.txt", "apache-flink")
    flink_args = _dockerfile_args(DOCKER_DIR / "flink" / "Dockerfile")
    assert {
        k: v for k, v in args.items() if k in flink_args
    } == flink_args, "the two images' Flink versions differ"
    _assert_fetches_the_flink_lib_jars(args)
    assert "openjdk-17-jdk-headless" in text  # javac: include/flink_jobs/ad_window_metrics/job.py format_jar
    assert (
        "python -m venv /opt/adevents/.venvs/flink" in text and '"apache-flink==${PYFLINK_VERSION}"' in text
    )
    assert 'cd "$lib"; \\\n    fetch-connector-jars.sh' in text
    assert (
        "pyflink/lib/*.jar" in text
    )  # the wheel's runtime jars beside the connectors, as install.sh links them
    monkeypatch.setattr(CONFIG, "PROJECT_ROOT", Path("/opt/adevents"))  # ADEVENTS_HOME of the image
    image = CONFIG.resolve({"DATA_DIR": "/data"})
    assert image["FLINK_CLI"] == "/opt/adevents/.venvs/flink/lib/python3.11/site-packages/pyflink/bin/flink"
    assert image["FLINK_LIB_DIR"] == "/opt/adevents/local_stack/.jars/flink-lib"
    assert "lib=/opt/adevents/local_stack/.jars/flink-lib" in text
    # The job's Python on the TaskManagers is the Flink image's venv, at the same path.
    assert image["FLINK_PYTHON_EXECUTABLE"] == "/opt/adevents/.venvs/flink/bin/python"
    assert "/opt/adevents/.venvs/flink/bin/pip" in (DOCKER_DIR / "flink" / "Dockerfile").read_text()
    env = _environment(SERVICES["airflow-scheduler"])
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in SERVICES["airflow-scheduler"]["volumes"]}
    assert mounts[env["FLINK_CONF_DIR"]] == "./local_stack/docker/flink/conf"


def test_streamlit_service() -> None:
    service = SERVICES["streamlit"]
    assert service["command"][:3] == ["streamlit", "run", "dashboard/app.py"]
    assert "--server.port" in service["command"] and "8501" in service["command"]
    streamlit = _pinned(DOCKER_DIR / "streamlit" / "requirements.txt", "streamlit")
    assert service["image"].endswith(f":{streamlit}")
    # The local stack runs the same Streamlit (requirements.txt -> the Airflow venv).
    assert _pinned(REPO / "requirements.txt", "streamlit") == streamlit
    assert (REPO / "dashboard" / "app.py").is_file()


@pytest.mark.parametrize("name", _params({n for n, s in SERVICES.items() if "build" in s}))
def test_dockerfile_copy_sources_exist_in_the_context(name: str) -> None:
    context, dockerfile = _build_dockerfile(SERVICES[name])
    ignore_file = dockerfile.with_name(dockerfile.name + ".dockerignore")
    allowed = None
    if ignore_file.exists():
        lines = [
            ln.strip() for ln in ignore_file.read_text().splitlines() if ln.strip() and not ln.startswith("#")
        ]
        if lines and lines[0] == "*":
            allowed = [ln[1:].rstrip("/") for ln in lines if ln.startswith("!")]
    for line in re.findall(r"^COPY\s+(.+)$", dockerfile.read_text(), flags=re.M):
        parts = [p for p in line.split() if not p.startswith("--")]
        if "--from" in line:
            continue
        for source in parts[:-1]:
            source = source.rstrip("/")
            assert (context / source).exists(), f"{dockerfile}: COPY source {source} is not in {context}"
            if allowed is not None and source not in ("", "."):
                assert any(
                    source == a or source.startswith(a + "/") for a in allowed
                ), f"{ignore_file.name} excludes COPY source {source}"


# ------------------------------------------------------------------------------ monitoring


def _jmx_metric_names() -> set[str]:
    """Metric names the Kafka JMX exporter rules can produce (alternations of $1 expanded)."""
    rules = yaml.safe_load((REPO / "local_stack/conf/kafka/jmx_exporter.yaml").read_text())
    names: set[str] = set()
    for rule in rules["rules"]:
        template = rule["name"]
        group = re.search(r"\(([^()]*)\)", rule["pattern"])
        alternatives = group.group(1).split("|") if group and "$1" in template else [""]
        names.update(template.replace("$1", alt).lower() for alt in alternatives)
    return names


def _dashboards() -> list[Path]:
    return sorted((DOCKER_DIR / "grafana" / "dashboards").glob("*.json"))


def test_grafana_provisioning_matches_the_mounts() -> None:
    provisioning = DOCKER_DIR / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasources[0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards" / "pipeline.yml").read_text())["providers"]
    mounts = {str(v).split(":")[1] for v in SERVICES["grafana"]["volumes"] if "grafana/dashboards" in str(v)}
    assert {p["options"]["path"] for p in providers} <= mounts
    assert _dashboards(), "no Grafana dashboard JSON"


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in _dashboards()])
def test_grafana_dashboard_panels_all_query_prometheus(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    uids = {
        ds["uid"]
        for ds in yaml.safe_load(
            (DOCKER_DIR / "grafana/provisioning/datasources/prometheus.yml").read_text()
        )["datasources"]
    }
    assert dashboard.get("uid") and dashboard.get("title")
    panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
    assert panels, f"{path.name}: no panels"
    jmx = _jmx_metric_names()
    for panel in panels:
        targets = panel.get("targets") or []
        assert targets, f"{path.name}: panel {panel.get('title')!r} has no target"
        for target in targets:
            expr = (target.get("expr") or "").strip()
            assert expr, f"{path.name}: panel {panel.get('title')!r} has a target without expr"
            assert expr.count("(") == expr.count(")"), f"unbalanced parentheses in {expr!r}"
            datasource = target.get("datasource") or panel.get("datasource")
            assert datasource and datasource["uid"] in uids, f"{panel.get('title')!r}: unknown data source"
            # Raw broker metrics (a recorded series such as adevents:kafka_messages_in:per_min is not one).
            for metric in re.findall(r"(?<![:\w])kafka_\w+", expr):
                assert metric in jmx, f"{metric} is not produced by local_stack/conf/kafka/jmx_exporter.yaml"


def test_dashboard_covers_the_platform() -> None:
    exprs = " ".join(
        t["expr"]
        for path in _dashboards()
        for p in json.loads(path.read_text())["panels"]
        for t in p.get("targets", [])
    )
    for metric in (
        "kafka_server_brokertopicmetrics_messagesinpersec_total",
        "flink_jobmanager_job_uptime",
        "flink_jobmanager_job_numberOfCompletedCheckpoints",
        "pg_up",
        "redis_up",
    ):
        assert metric in exprs, f"no dashboard panel uses {metric}"


def test_prometheus_scrapes_compose_services() -> None:
    prometheus = yaml.safe_load((DOCKER_DIR / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert {"kafka", "flink", "postgres", "redis", "alertmanager", "prometheus"} <= set(jobs)
    for job in jobs.values():
        for config in job["static_configs"]:
            for target in config["targets"]:
                host, port = target.split(":")
                assert host in SERVICES, f"{job['job_name']}: {target} is no service"
                listens = {str(p).rsplit(":", 1)[1] for p in SERVICES[host].get("ports", [])}
                assert (
                    port in listens
                ), f"{job['job_name']}: {host} does not listen on {port} ({sorted(listens)})"
    # The rules of local_stack/monitoring/rules/, rendered next to prometheus.yml (mounted with it).
    assert prometheus["rule_files"] == ["*.rules.yml"]
    assert "./local_stack/docker/prometheus:/etc/prometheus:ro" in SERVICES["prometheus"]["volumes"]
    rules = sorted((DOCKER_DIR / "prometheus").glob("*.rules.yml"))
    assert {p.name for p in rules} == {
        f"{p.stem}.rules.yml" for p in (REPO / "local_stack/monitoring/rules").glob("*.yml")
    }
    jmx = _jmx_metric_names()
    for path in rules:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule["record"]
                assert rule["expr"].strip(), name
                if "alert" in rule:
                    assert rule.get("annotations", {}).get("summary"), name
                for metric in re.findall(r"(?<![:\w])kafka_\w+", rule["expr"]):
                    assert metric in jmx, f"{name}: {metric} is not produced by the JMX exporter"


def test_alertmanager_takes_the_webhook_from_a_file() -> None:
    config = yaml.safe_load((DOCKER_DIR / "alertmanager" / "alertmanager.yml").read_text())
    slack = config["receivers"][0]["slack_configs"][0]
    assert "api_url" not in slack and slack["api_url_file"] == "/tmp/slack_webhook_url"
    assert "/tmp/slack_webhook_url" in " ".join(SERVICES["alertmanager"]["command"])


# ------------------------------------------------------------------------------ one definition per component

COMPOSE_RENDERINGS = RENDER.compose_sources()
# Files of local_stack/docker/ that are compose's own (image builds, one-shot scripts, Grafana's data
# source and provider, Metabase): anything else there must be a rendering.
COMPOSE_ONLY_FILES = (
    "README.md",
    "init-env.sh",
    "airflow/*",
    "streamlit/*",
    "flink/Dockerfile",
    "flink/adevents-entrypoint.sh",
    "flink/fetch-connector-jars.sh",
    "kafka/fetch-jmx-agent.sh",
    "postgres/provision.sh",
    "grafana/provisioning/*",
    "metabase/*",
)
# The local stack's definitions that compose mounts as they are (they name no host, port or path).
SHARED_AS_IS = {
    "kafka": "./local_stack/conf/kafka/jmx_exporter.yaml",
    "pipeline-exporter": "./local_stack/conf/pipeline-exporter/queries.yaml",
    "slack-sink": "./local_stack/slack_sink.py",
}
# All that may differ between the two renderings of a definition: hosts, ports and paths.
PER_TARGET = (
    set(RENDER.SERVICE_HOSTS)
    | set(RENDER.COMPOSE_PATHS)
    | {name for name in SETTINGS if name.endswith("_PORT")}
    | {n for n, s in SETTINGS.items() if "{DATA_DIR}" in s.default or "{PROJECT_ROOT}" in s.default}
)
LOCAL_VALUES = RENDER.local_values(CONFIG.resolve({}))


def _line_pattern(line: str) -> re.Pattern[str]:
    """A template line with its per-target values left open and every other value the local one."""
    parts, last = [], 0
    for m in RENDER.NAME_PATTERN.finditer(line):
        name = m.group(1)
        parts += [
            re.escape(line[last : m.start()]),
            ".+?" if name in PER_TARGET else re.escape(LOCAL_VALUES[name]),
        ]
        last = m.end()
    return re.compile("".join([*parts, re.escape(line[last:])]))


@pytest.mark.parametrize("rel", _params(COMPOSE_RENDERINGS))
def test_compose_renderings_are_current(rel: str) -> None:
    src = COMPOSE_RENDERINGS[rel]
    assert RENDER.is_template(src), f"{src} is no template: mount it as it is"
    assert (DOCKER_DIR / rel).read_text() == RENDER.substitute(src, RENDER.compose_values()), (
        f"local_stack/docker/{rel} is not {src.relative_to(REPO)} as rendered now: "
        "run python3 local_stack/bin/render_configs.py --target compose (never edit the rendering)"
    )


@pytest.mark.parametrize("rel", _params(COMPOSE_RENDERINGS))
def test_compose_and_local_renderings_differ_only_in_hosts_ports_and_paths(rel: str) -> None:
    src = COMPOSE_RENDERINGS[rel]
    template = src.read_text().splitlines()
    local = RENDER.substitute(src, LOCAL_VALUES).splitlines()
    compose = (DOCKER_DIR / rel).read_text().splitlines()
    assert len(compose) == len(local) == len(template), f"{rel}: lines added or removed against {src.name}"
    for no, (line, here, there) in enumerate(zip(template, local, compose, strict=True), 1):
        assert here == there or _line_pattern(line).fullmatch(there), (
            f"local_stack/docker/{rel}:{no} differs from the local stack's rendering in more than hosts, "
            f"ports and paths:\n  local:   {here}\n  compose: {there}"
        )


def test_compose_renderings_hold_no_secret_and_no_checkout_path() -> None:
    secrets = {name for name, s in SETTINGS.items() if s.secret}
    for rel, src in COMPOSE_RENDERINGS.items():
        used = set(RENDER.NAME_PATTERN.findall(src.read_text()))
        assert (
            not used & secrets
        ), f"{src.name} would write {sorted(used & secrets)} into local_stack/docker/{rel}"
        assert (
            str(REPO) not in (DOCKER_DIR / rel).read_text()
        ), f"local_stack/docker/{rel} names this checkout"


def test_local_stack_docker_holds_only_renderings_and_compose_only_files() -> None:
    files = {
        p.relative_to(DOCKER_DIR).as_posix()
        for p in DOCKER_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    strays = sorted(
        f for f in files - set(COMPOSE_RENDERINGS) if not any(fnmatch(f, pat) for pat in COMPOSE_ONLY_FILES)
    )
    assert not strays, (
        f"compose's own copies of a component's configuration: {strays}. Render the local stack's "
        "definition for compose (local_stack/bin/render_configs.py) or mount it as it is"
    )


def test_compose_mounts_the_renderings_and_the_shared_definitions() -> None:
    mounts = {
        name: [str(v).split(":", 1)[0] for v in service.get("volumes", [])]
        for name, service in SERVICES.items()
    }
    sources = {source for per_service in mounts.values() for source in per_service}
    for rel in COMPOSE_RENDERINGS:
        path = f"./local_stack/docker/{rel}"
        assert any(
            path == s or path.startswith(s.rstrip("/") + "/") for s in sources
        ), f"no service mounts {rel}"
    for name, source in SHARED_AS_IS.items():
        assert source in mounts[name], f"{name} does not mount the local stack's {source}"


# ------------------------------------------------------------------------------ docker compose itself


def test_interpolation_needs_every_secret() -> None:
    """Without .env compose must refuse to start: every secret is `${NAME:?...}`."""
    with pytest.raises(ValueError):
        _interpolate(SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"], {})
    assert _interpolate("${PG_PORT:-5432}", {"PG_PORT": ""}) == "5432"
