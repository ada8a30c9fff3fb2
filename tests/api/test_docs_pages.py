"""The API's doc pages work offline and under a strict CSP: every script and stylesheet
is one of the project's static files (drf-spectacular-sidecar's Swagger UI and Redoc), no
inline script, style or handler; the schema they load is served in YAML and JSON."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_a_doc_page_uses_only_local_assets_and_no_inline_code(client, path):
    response = client.get(path)
    html = response.content.decode()

    assert response.status_code == 200
    assert "<style" not in html and "style=" not in html
    assert not re.search(r"\son\w+=", html)
    assert all(re.search(r"<script[^>]*\bsrc=", tag) for tag in re.findall(r"<script[^>]*>", html))
    assets = [url for url in ASSET.findall(html) if not url.startswith("#")]
    assert assets
    for url in assets:
        assert url.startswith("/"), f"{url} is not served by the portal"
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url


def test_swagger_ui_loads_its_settings_as_a_script_file(client):
    script = client.get("/api/docs/?script=")

    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema" in script.content.decode()


def test_the_schema_is_served_as_yaml_and_json(client):
    as_yaml = client.get("/api/v1/schema")
    as_json = client.get("/api/v1/schema?format=json")

    assert as_yaml.status_code == as_json.status_code == 200
    assert yaml.safe_load(as_yaml.content)["openapi"].startswith("3.")
    assert as_json.json()["info"]["title"] == "Shipment visibility portal API"
