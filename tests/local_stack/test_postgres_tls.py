"""PostgreSQL over TLS: every client verifies the server (sslmode=verify-full against the CA that
make up generated), and the server refuses plaintext logins and clients that trust another CA."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from include import config
from include.db import connection_errors

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("PgJdbcProbe.java")
LOGINS = ("PG_OWNER", "PG_STREAM_WRITER", "PG_DBT", "PG_DASHBOARD")


def _plain_dsn(cfg: dict[str, str], **params: str) -> str:
    """The owner's DSN with our own TLS parameters instead of the configured ones."""
    base = config.pg_dsn("PG_OWNER").split("?", 1)[0]
    return base + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _refusal(dsn: str) -> psycopg.OperationalError:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(dsn, connect_timeout=10).close()
    return refused.value


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> Path:
    """A CA that did not sign the server's certificate."""
    out = tmp_path_factory.mktemp("other_ca")
    new_ca = ["openssl", "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    names = ["-subj", "/CN=other", "-keyout", str(out / "ca.key"), "-out", str(out / "ca.crt")]
    subprocess.run([*new_ca, *names], check=True, capture_output=True)
    return out / "ca.crt"


@pytest.fixture
def superuser(cfg):
    """The stack's superuser over its own socket (sees every session's address and TLS state)."""
    with psycopg.connect(
        host=f"{cfg['DATA_DIR']}/run/pg",
        port=cfg["PG_PORT"],
        user="postgres",
        dbname="postgres",
        autocommit=True,
    ) as conn:
        yield conn


def test_the_stack_defaults_to_verify_full(cfg):
    assert cfg["PG_SSLMODE"] == "verify-full"
    assert Path(cfg["PG_SSLROOTCERT"]).is_file(), "make up generates the local CA"
    for login in LOGINS:
        assert "sslmode=verify-full" in urlsplit(config.pg_dsn(login)).query


@pytest.mark.parametrize("login", LOGINS)
def test_every_login_is_encrypted_and_verified(bootstrapped, login):
    with psycopg.connect(config.pg_dsn(login)) as conn:
        ssl, version = conn.execute(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone()
        assert ssl is True
        assert version in ("TLSv1.2", "TLSv1.3")
        assert conn.info.get_parameters()["sslmode"] == "verify-full"


def test_plaintext_login_is_refused_with_a_one_line_reason(cfg):
    error = _refusal(_plain_dsn(cfg, sslmode="disable"))
    assert "no encryption" in str(error)
    explained = connection_errors.explain(error, cfg)
    assert "\n" not in explained
    assert "accepts only TLS connections" in explained and "PG_SSLMODE" in explained


def test_a_client_trusting_another_ca_is_refused(cfg, other_ca):
    error = _refusal(_plain_dsn(cfg, sslmode="verify-full", sslrootcert=str(other_ca)))
    assert "certificate verify failed" in str(error)
    explained = connection_errors.explain(error, cfg)
    assert "\n" not in explained
    assert "PG_SSLROOTCERT" in explained and "did not sign" in explained


def test_verify_full_checks_the_host_name(cfg):
    # The right CA, but the client asks for a name the certificate does not carry.
    dsn = _plain_dsn(
        cfg,
        sslmode="verify-full",
        sslrootcert=cfg["PG_SSLROOTCERT"],
        host="db.example",
        hostaddr=cfg["PG_HOST"],
    )
    error = _refusal(dsn)
    assert "does not match host name" in str(error)
    assert "does not name PG_HOST" in connection_errors.explain(error, cfg)


def test_a_missing_root_certificate_names_the_setting(cfg, tmp_path):
    error = _refusal(_plain_dsn(cfg, sslmode="verify-full", sslrootcert=str(tmp_path / "absent.crt")))
    assert "PG_SSLROOTCERT" in connection_errors.explain(error, cfg)


def _jdbc_probe(cfg: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
    driver = next((REPO / "local_stack/.jars/flink-lib").glob("postgresql-*.jar"))
    return subprocess.run(
        ["java", "-cp", str(driver), str(PROBE), url],
        env={"PROBE_USER": cfg["PG_STREAM_WRITER_USER"], "PROBE_PASSWORD": cfg["PG_STREAM_WRITER_PASSWORD"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_flink_jobs_jdbc_driver_verifies_the_server(bootstrapped, cfg, other_ca):
    """The driver and URL of the job's sink (spec.jdbc_url): encrypted with the right CA, refused
    with another one or without TLS."""
    from include.flink_jobs.ad_window_metrics.spec import jdbc_url

    url = jdbc_url(cfg)
    assert "sslmode=verify-full" in url
    ok = _jdbc_probe(cfg, url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("ssl=true"), ok.stdout

    wrong_ca = _jdbc_probe(cfg, config.pg_jdbc_url({**cfg, "PG_SSLROOTCERT": str(other_ca)}))
    assert wrong_ca.returncode == 1
    assert "error:" in wrong_ca.stdout and "PKIX" in wrong_ca.stdout, wrong_ca.stdout

    plain = _jdbc_probe(cfg, config.pg_jdbc_url({**cfg, "PG_SSLMODE": "disable"}))
    assert plain.returncode == 1
    assert "no encryption" in plain.stdout, plain.stdout


def test_the_pipeline_exporter_reads_over_tls(bootstrapped, cfg):
    rendered = (Path(cfg["DATA_DIR"]) / "run/conf/supervisord.conf").read_text()
    assert f"dbname={cfg['PG_DATABASE']} sslmode=verify-full sslrootcert=" in rendered
    url = f"http://{cfg['BIND_HOST']}:{cfg['PIPELINE_EXPORTER_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=30) as response:
        # The server refuses plaintext: pg_up 1 means the exporter's TLS session worked.
        assert "\npg_up 1" in response.read().decode()


def test_every_tcp_session_of_the_stack_is_encrypted(bootstrapped, superuser):
    """Airflow's metadata DB, the schema registry and whatever else holds a TCP session right now."""
    sessions = superuser.execute(
        "SELECT a.usename, a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
        "WHERE a.client_addr IS NOT NULL AND a.pid <> pg_backend_pid()"
    ).fetchall()
    users = {user for user, _, _ in sessions}
    assert {"airflow", "registry"} <= users, sessions
    assert [s for s in sessions if not s[2]] == []


def _tls_files(out: Path, *hosts: str) -> str:
    script = REPO / "local_stack/bin/postgres_tls.sh"
    return subprocess.run(
        [str(script), str(out), pwd.getpwuid(os.getuid()).pw_name, *hosts],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _names(cert: Path) -> str:
    show = ["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"]
    return subprocess.run(show, capture_output=True, text=True, check=True).stdout


def test_the_certificate_script_is_idempotent_and_keeps_keys_private(tmp_path):
    out = tmp_path / "tls"
    assert _tls_files(out, "127.0.0.1") == "renewed"
    made = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _tls_files(out, "127.0.0.1") == "", "a second run changes nothing"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == made
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE((out / key).stat().st_mode) == 0o600
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(out / "ca.crt"), str(out / "server.crt")],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    names = _names(out / "server.crt")
    assert "DNS:localhost" in names and "IP Address:127.0.0.1" in names

    # A new host name (PG_HOST or BIND_HOST changed) gets a new certificate from the same CA.
    assert _tls_files(out, "127.0.0.1", "db.internal") == "renewed"
    assert (out / "ca.crt").read_bytes() == made["ca.crt"]
    assert "DNS:db.internal" in _names(out / "server.crt")
