"""What the OpenAPI document says about bodies is what the models enforce."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.api.models import BulkOwner, Capacity, Close, Owner
from gateway.api.openapi import document


@pytest.mark.parametrize("raw", ['{"capacity": true}', '{"capacity": "5"}',
                                 '{"capacity": 5.5}', '{"capacity": -1}'])
def test_capacity_is_an_integer_not_a_boolean_or_a_string(raw: str) -> None:
    with pytest.raises(ValidationError):
        Capacity.model_validate_json(raw)


def test_an_integral_number_is_a_capacity() -> None:
    assert Capacity.model_validate_json('{"capacity": 5.0}').capacity == 5


@pytest.mark.parametrize("raw", ['{"typification": true}', '{"note": 1}'])
def test_strings_are_not_booleans_or_numbers(raw: str) -> None:
    with pytest.raises(ValidationError):
        Close.model_validate_json(raw)


def test_the_schema_says_which_owners_need_an_id() -> None:
    schema = document()["components"]["schemas"]["Owner"]
    assert schema["then"]["required"] == ["id"]
    assert schema["then"]["properties"]["id"]["minLength"] == 1
    with pytest.raises(ValidationError):
        Owner.model_validate_json('{"type": "agent"}')
    with pytest.raises(ValidationError):
        BulkOwner.model_validate_json('{"contacts": [""], "owner": {"type": "unassigned"}}')


def test_ids_in_paths_and_required_queries_are_non_empty_and_patterned() -> None:
    for path, item in document()["paths"].items():
        for op in item.values():
            for param in op["parameters"]:
                if param["in"] == "path" or (param["in"] == "query" and param["required"]):
                    assert param["schema"]["minLength"] == 1, (path, param["name"])
                    assert param["schema"]["pattern"].startswith("^"), (path, param["name"])
            assert "503" in op["responses"] and "401" in op["responses"]
            assert ("415" in op["responses"]) == ("requestBody" in op), path
