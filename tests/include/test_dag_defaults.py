"""How DAGs declare params (no Airflow services needed: a Param validates on its own)."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import ParamValidationError

from include.dag_defaults import choice_param


def test_a_choice_param_offers_each_value_with_its_meaning_in_order():
    param = choice_param("b", {"b": "the second", "a": "the first"}, "Pick one")

    assert param.resolve() == "b"
    assert param.schema["type"] == "string"
    assert param.schema["enum"] == ["b", "a"]
    assert param.schema["values_display"] == {"b": "b (the second)", "a": "a (the first)"}
    assert param.description == "Pick one"


@pytest.mark.parametrize(
    "value, error",
    [
        pytest.param("b", None, id="a-listed-value"),
        pytest.param("c", "'c' is not one of", id="a-value-not-offered"),
        pytest.param(1, "1 is not of type 'string'", id="not-a-string"),
    ],
)
def test_a_choice_param_accepts_only_its_values(value, error):
    param = choice_param("a", {"a": "first", "b": "second"}, "Pick one")

    if error is None:
        assert param.resolve(value) == value
    else:
        with pytest.raises(ParamValidationError, match=error):
            param.resolve(value)


def test_a_default_that_is_not_a_choice_is_refused():
    with pytest.raises(ParamValidationError, match="'z' is not one of"):
        choice_param("z", {"a": "first"}, "Pick one").resolve()
