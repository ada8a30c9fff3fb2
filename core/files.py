"""Stored files read back only when they are what was stored: the reader names the
SHA-256 recorded at write time, and gets the bytes only if they hash to it.

Files live behind Django's storage API (`STORAGES["default"]`: local disk by default, an
S3-compatible bucket when `S3_BUCKET` is set), so any web or worker host reaches them. A
bucket or disk is outside the database's guarantees: an object can be overwritten,
truncated or swapped by anyone holding the bucket's keys. So the whole file is read and
hashed before the first byte is served (into a spooled temporary file: memory up to
SPOOL_BYTES, then disk), and a mismatch is refused, never streamed.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from typing import IO

from django.core.files.base import ContentFile
from django.core.files.storage import Storage

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
SPOOL_BYTES = 2 * 1024 * 1024


class StoredFileCorrupt(Exception):
    """The stored bytes do not hash to the recorded SHA-256 (tampered with, truncated)."""

    def __init__(self, name: str, expected: str, actual: str) -> None:
        super().__init__(f"{name}: stored SHA-256 {actual} is not the recorded {expected}")
        self.name, self.expected, self.actual = name, expected, actual


def save_content_addressed(storage: Storage, folder: str, content: bytes) -> tuple[str, str]:
    """Store `content` as `<folder>/sha256/<first two hex digits>/<sha256>` unless it is
    there already (replays and rebuilds reuse the stored file); its (name, sha256), the
    digest to record next to the name and to give `open_verified`."""
    sha256 = hashlib.sha256(content).hexdigest()
    name = f"{folder}/sha256/{sha256[:2]}/{sha256}"
    if not storage.exists(name):
        storage.save(name, ContentFile(content))
    return name, sha256


def open_verified(storage: Storage, name: str, sha256: str) -> IO[bytes]:
    """The stored file `name`, positioned at its start, once its SHA-256 is `sha256`.
    Raises StoredFileCorrupt (logged as an error) otherwise."""
    digest = hashlib.sha256()
    copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned open)
    with storage.open(name, "rb") as stored:
        while chunk := stored.read(CHUNK_BYTES):
            digest.update(chunk)
            copy.write(chunk)
    if digest.hexdigest() != sha256:
        copy.close()
        error = StoredFileCorrupt(name, sha256, digest.hexdigest())
        logger.error("refused a stored file: %s", error)
        raise error
    copy.seek(0)
    return copy
