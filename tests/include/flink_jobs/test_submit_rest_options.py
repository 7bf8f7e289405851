"""Where ``flink run`` sends a submission: the cluster at FLINK_REST_URL, not its config's address."""

from __future__ import annotations

import pytest

from include.flink_jobs.common.submit import FlinkSubmitError, rest_options


def test_http_url_names_host_and_port() -> None:
    assert rest_options("http://flink-jm.prod:8081") == [
        "-D",
        "rest.address=flink-jm.prod",
        "-D",
        "rest.port=8081",
    ]


def test_https_without_port_uses_443_and_rest_tls() -> None:
    assert rest_options("https://flink.example.com/") == [
        "-D",
        "rest.address=flink.example.com",
        "-D",
        "rest.port=443",
        "-D",
        "security.ssl.rest.enabled=true",
    ]


@pytest.mark.parametrize("url", ["flink-jm:8081", "ftp://flink:8081", "http://:8081"])
def test_a_url_that_names_no_cluster_is_refused_with_the_setting(url: str) -> None:
    with pytest.raises(FlinkSubmitError, match="FLINK_REST_URL"):
        rest_options(url)
