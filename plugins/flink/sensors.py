"""Sensor: wait (deferred, no worker slot held) until a Flink job is healthy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context


class FlinkJobHealthSensor(BaseSensorOperator):
    """Succeeds when the job called ``job_name`` is RUNNING with a recently completed checkpoint.

    - Defers at once to :class:`~plugins.flink.triggers.FlinkJobHealthTrigger`; the triggerer polls.
    - Fails with the last observed status (missing, not_running, stale, starting...) on timeout.

    :param job_name: the job's name. Templated.
    :param max_checkpoint_age_s: newest checkpoint must be younger than this. Default: setting
        FLINK_MAX_CHECKPOINT_AGE_S.
    :param flink_conn_id: Flink REST connection. Default: ``flink_rest``.
    :param poll_interval: seconds between polls. Default: 5.
    :param timeout: seconds to wait overall. Default: 600.

    .. seealso:: :func:`include.flink_jobs.common.health.assess` for the exact rules.
    """

    template_fields: Sequence[str] = ("job_name", "flink_conn_id")

    def __init__(
        self,
        *,
        job_name: str,
        max_checkpoint_age_s: float | None = None,
        flink_conn_id: str = "flink_rest",
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, **kwargs)
        self.job_name = job_name
        self.max_checkpoint_age_s = max_checkpoint_age_s
        self.flink_conn_id = flink_conn_id
        self.poll_interval = poll_interval
        self.health_timeout = timeout

    def execute(self, context: Context) -> None:
        from include.config import param_or_setting
        from plugins.flink.hooks import FlinkRestHook
        from plugins.flink.triggers import FlinkJobHealthTrigger

        self.defer(
            trigger=FlinkJobHealthTrigger(
                base_url=FlinkRestHook(self.flink_conn_id).base_url,
                job_name=self.job_name,
                max_checkpoint_age_s=float(
                    param_or_setting(self.max_checkpoint_age_s, "FLINK_MAX_CHECKPOINT_AGE_S")
                ),
                poll_interval=self.poll_interval,
                timeout=self.health_timeout,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        if event.get("status") != "healthy":
            raise RuntimeError(
                f"Flink job {self.job_name} is not healthy: {event.get('status')} ({event.get('detail')})"
            )
        self.log.info("Flink job %s healthy: %s", self.job_name, event.get("detail"))
        return str(event["job_id"])
