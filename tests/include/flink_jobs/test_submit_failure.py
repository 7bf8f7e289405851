"""What a failed ``flink run`` tells the user (pure: the client's output is given)."""

from __future__ import annotations

from include.flink_jobs.common.submit import FlinkSubmitError, IncompatibleStateError, submit_failure

CHECKPOINT = "file:///srv/data/checkpoints/ad_window_metrics/57ac6062/chk-1051"
# The client's output when a checkpoint of an earlier plan of the job is restored (Flink 2.0.2).
MISMATCH_OUTPUT = f"""
Caused by: java.util.concurrent.CompletionException: java.lang.IllegalStateException: Failed to \
rollback to checkpoint/savepoint {CHECKPOINT}. Cannot map checkpoint/savepoint state for operator \
2ccd1f603cd5497fe234cfcd3f3a7644 to the new program, because the operator is not available in the \
new program. If you want to allow to skip this, you can set the --allowNonRestoredState option on \
the CLI.
org.apache.flink.client.program.ProgramAbortException: java.lang.RuntimeException: Python process \
exits with code: 1
"""


def test_state_of_another_plan_says_what_to_do() -> None:
    error = submit_failure("ad_window_metrics", CHECKPOINT, 31, MISMATCH_OUTPUT)
    assert isinstance(error, IncompatibleStateError)
    message = str(error)
    assert CHECKPOINT in message and "2ccd1f603cd5497fe234cfcd3f3a7644" in message
    assert "restore=none" in message and "dag_flink_deploy" in message
    assert "Traceback" not in message and "\n" not in message


def test_other_failures_keep_the_clients_last_lines() -> None:
    error = submit_failure("ad_window_metrics", None, 1, "line one\n\nCould not connect to 127.0.0.1:8081\n")
    assert type(error) is FlinkSubmitError
    assert "exit 1" in str(error) and "Could not connect to 127.0.0.1:8081" in str(error)


def test_the_mismatch_wording_without_a_restore_is_not_a_state_problem() -> None:
    assert type(submit_failure("ad_window_metrics", None, 31, MISMATCH_OUTPUT)) is FlinkSubmitError
