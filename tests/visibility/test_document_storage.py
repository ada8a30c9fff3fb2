"""Documents through Django's storage API: in an S3-compatible bucket when S3_BUCKET is
set (a real S3 server here: moto's, over HTTP on loopback), on local disk by default; a
file changed in storage is refused, never served."""

from __future__ import annotations

import hashlib
import os

import boto3
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from moto.server import ThreadedMotoServer

from accounts.services import api_token_create
from tests.helpers import send_story
from tests.processes import free_port
from visibility.models import Document

pytestmark = pytest.mark.django_db

BUCKET = "portal-documents"
CREDENTIALS = {"aws_access_key_id": "portal-test", "aws_secret_access_key": "portal-test-secret"}


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture(scope="module")
def s3_endpoint():
    port = int(os.environ.get("S3_TEST_PORT") or free_port())
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    yield endpoint
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings):
    """An empty bucket on the S3 server, configured as the portal's storage (the settings
    S3_BUCKET, S3_ENDPOINT_URL and the keys produce)."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "addressing_style": "path",
                "signature_version": "s3v4",
                "default_acl": None,
                "file_overwrite": True,
            },
        },
    }
    yield client
    for stored in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=stored["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_a_document_from_intake_is_stored_in_the_bucket_and_downloads_verified(
    bucket, client, brenner, source_tokens, story, customer_user, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path  # nothing may land on local disk
    send_story(client, source_tokens, story)
    document = Document.objects.get(document_id="DOC-POD-778120")

    stored = bucket.get_object(Bucket=BUCKET, Key=document.file.name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == document.sha256
    assert not any(tmp_path.iterdir())

    client.force_login(customer_user)
    response = client.get("/documents/DOC-POD-778120/download")

    content = body_of(response)
    assert response.status_code == 200
    assert content == stored and content.startswith(b"%PDF")
    assert response["X-Content-SHA256"] == hashlib.sha256(content).hexdigest()


def test_a_document_changed_in_the_bucket_is_refused(
    bucket, client, brenner, source_tokens, story, customer_user
):
    send_story(client, source_tokens, story)
    name = Document.objects.get(document_id="DOC-POD-778120").file.name
    bucket.put_object(Bucket=BUCKET, Key=name, Body=b"%PDF-1.4 forged proof of delivery")
    browser = Client(raise_request_exception=False)
    browser.force_login(customer_user)

    _, secret = api_token_create(tenant=brenner, name="docs", scopes=["documents"])

    response = browser.get("/documents/DOC-POD-778120/download")
    api = browser.get("/api/v1/documents/DOC-POD-778120", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 500
    assert b"forged" not in response.content
    assert api.status_code == 500 and api["Content-Type"] == "application/problem+json"
    assert api.json()["type"].endswith("/server-error") and b"forged" not in api.content


def test_a_document_changed_on_local_disk_is_refused(
    client, brenner, source_tokens, story, customer_user, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path  # the default storage; other tests' files stay intact
    send_story(client, source_tokens, story)
    document = Document.objects.get(document_id="DOC-POD-778120")
    with default_storage.open(document.file.name, "wb") as stored:
        stored.write(b"%PDF-1.4 forged proof of delivery")
    browser = Client(raise_request_exception=False)
    browser.force_login(customer_user)

    response = browser.get("/documents/DOC-POD-778120/download")

    assert response.status_code == 500
    assert b"forged" not in response.content
