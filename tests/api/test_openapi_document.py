"""The committed OpenAPI document (docs/openapi.yaml) is what the code describes: a change
to an endpoint that does not regenerate it fails here, and so does any spectacular
warning (an endpoint it cannot describe)."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.management import call_command

from core.problems import PROBLEM_TYPES

ROOT = Path(__file__).resolve().parent.parent.parent
COMMITTED = ROOT / "docs" / "openapi.yaml"


def test_the_committed_document_is_the_generated_one(tmp_path):
    generated = tmp_path / "openapi.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))

    assert generated.read_text() == COMMITTED.read_text(), (
        "docs/openapi.yaml differs from what the code describes: run `make openapi` and "
        "commit docs/openapi.yaml (review the diff: it is the API's contract)."
    )


def test_every_operation_documents_its_problems_as_problem_json():
    document = yaml.safe_load(COMMITTED.read_text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            failures = {
                status: answer
                for status, answer in operation["responses"].items()
                if int(status) >= 400
            }
            assert "401" in failures, f"{method} {path} documents no 401"
            for status, answer in failures.items():
                assert list(answer["content"]) == ["application/problem+json"], (method, path)
                schema = answer["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)


def test_the_document_names_both_partner_credentials():
    document = yaml.safe_load(COMMITTED.read_text())
    schemes = document["components"]["securitySchemes"]

    assert schemes["partnerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["partnerToken"]["description"],
    }
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert document["paths"]["/api/v1/shipments"]["get"]["security"] == [
        {"partnerToken": []},
        {"cookieAuth": []},
    ]


def test_every_problem_type_is_documented_in_the_api_guide():
    guide = (ROOT / "docs" / "API.md").read_text()
    errors = guide.split("## Errors", 1)[1]

    assert [slug for slug in PROBLEM_TYPES if f"`{slug}`" not in errors] == []
