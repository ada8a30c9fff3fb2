"""Documents through Django's storage API: in an S3-compatible bucket when S3_BUCKET is
set (a real S3 server here: moto's, over HTTP on loopback), on local disk by default; a
file changed in storage is refused, never served."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import timedelta

import boto3
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from moto.server import ThreadedMotoServer

from accounts.services import api_token_create
from integration.models import InboxEvent
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.helpers import read_model_state, send_story
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


def test_archives_round_trip_through_the_bucket(bucket, brenner, story, settings, tmp_path):
    """With S3_BUCKET set the archive lives under `archive/` in the bucket (the settings'
    "archive" storage): archive → delete → rebuild from the bucket gives the same read
    models, and nothing is written to local disk."""
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "location": "archive"},
        },
    }
    settings.INBOX_ARCHIVE_AFTER_DAYS = 30
    for event in story:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()
    InboxEvent.objects.update(received_at=F("received_at") - timedelta(days=40))
    projected = read_model_state()

    call_command("archive_events", stdout=io.StringIO(), stderr=io.StringIO())

    keys = [stored["Key"] for stored in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert InboxEvent.objects.count() == 0
    assert any(key.startswith("archive/inbox/") and key.endswith(".jsonl.gz") for key in keys)
    assert not any(tmp_path.iterdir())
    call_command("rebuild_read_models", stdout=io.StringIO(), stderr=io.StringIO())
    assert read_model_state() == projected
