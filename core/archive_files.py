"""Archive files: gzip-compressed JSON lines kept through Django's storage API
(`storages["archive"]`: local disk under MEDIA_ROOT/archive unless ARCHIVE_ROOT says
otherwise; an S3-compatible backend is a settings change), each read back only if its
SHA-256 is the one recorded when it was written.

No domain here: callers name the file's prefix and give plain dicts. A file's name ends
with the first 16 hex digits of its SHA-256 (`inbox/2026-01-05/tms.3f1c….jsonl.gz`), so a
file is never overwritten in place: a writer that crashes leaves either the old file or a
new one beside it, never half of one (docs/OPERATIONS.md, "Archive and retention").

gzip with `mtime=0` and JSON with sorted keys make the bytes a function of the rows: the
same rows written twice give the same name, which is what lets a re-run after a crash
recognise its own file instead of writing a second copy.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

SUFFIX = ".jsonl.gz"
CHECKSUM_SUFFIX = ".sha256"
CHUNK = 1 << 20


class ArchiveTamperedError(Exception):
    """An archive file's content is not what was written (or it is missing)."""


@dataclass(frozen=True)
class WrittenArchive:
    name: str
    sha256: str
    rows: int


def archive_storage() -> Storage:
    return storages["archive"]


def _json_default(value: object) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def archive_line(row: dict[str, Any], *, raw: tuple[str, str | None] | None = None) -> bytes:
    """One line: `row` as JSON with sorted keys; `raw=(field, json_text)` puts that field
    first with its JSON text verbatim (as PostgreSQL printed it: numbers keep every digit,
    which a round trip through Python floats would not)."""
    rest = json.dumps(row, sort_keys=True, separators=(",", ":"), default=_json_default)
    if raw is None:
        return (rest + "\n").encode()
    field, text = raw
    if "\n" in (text or ""):
        raise ValueError("raw JSON text must be on one line")
    head = f"{{{json.dumps(field)}:{'null' if text is None else text}"
    return (head + ("}" if rest == "{}" else "," + rest[1:]) + "\n").encode()


def raw_field(line: bytes, field: str) -> str:
    """The verbatim JSON text of `field` in a line written by `archive_line(raw=...)`."""
    text = line.decode()
    head = f"{{{json.dumps(field)}:"
    if not text.startswith(head):
        raise ValueError(f"the line does not start with {field!r}")
    _, end = json.JSONDecoder().raw_decode(text, len(head))
    return text[len(head) : end]


def _sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def archive_write(prefix: str, lines: Iterable[bytes]) -> WrittenArchive:
    """Write `lines` (from `archive_line`) as `<prefix>.<sha16>.jsonl.gz` (and its
    `.sha256` beside it, in `sha256sum -c` form), read it back, and answer its name and
    checksum. Writing lines that are already archived under that name is a no-op."""
    storage = archive_storage()
    with tempfile.TemporaryFile() as spool:
        count = 0
        with gzip.GzipFile(fileobj=spool, mode="wb", mtime=0, filename="") as compressed:
            for line in lines:
                compressed.write(line)
                count += 1
        spool.seek(0)
        sha256 = _sha256_of(spool)
        name = f"{prefix}.{sha256[:16]}{SUFFIX}"
        if storage.exists(name) and _stored_sha256(storage, name) != sha256:
            # A file under our name that is not ours (a partial copy by hand): replace it.
            storage.delete(name)
        if not storage.exists(name):
            spool.seek(0)
            saved = storage.save(name, File(spool, name=name))
            if saved != name:
                raise OSError(f"archive storage saved {name} as {saved}")
        if _stored_sha256(storage, name) != sha256:
            raise OSError(f"archive {name} did not read back as written")
    checksum_name = name + CHECKSUM_SUFFIX
    if storage.exists(checksum_name):
        storage.delete(checksum_name)
    storage.save(checksum_name, ContentFile(f"{sha256}  {name.rsplit('/', 1)[-1]}\n".encode()))
    return WrittenArchive(name=name, sha256=sha256, rows=count)


def _stored_sha256(storage: Storage, name: str) -> str:
    with storage.open(name, "rb") as stored:
        return _sha256_of(stored)


def archive_verify(name: str, sha256: str) -> None:
    """Raise ArchiveTamperedError unless the stored file hashes to `sha256`."""
    storage = archive_storage()
    if not storage.exists(name):
        raise ArchiveTamperedError(f"archive file {name} is missing")
    actual = _stored_sha256(storage, name)
    if actual != sha256:
        raise ArchiveTamperedError(
            f"archive file {name} has SHA-256 {actual}, but {sha256} was recorded when it "
            "was written: it was changed or damaged since; refusing to read it"
        )


def archive_read_lines(name: str, sha256: str) -> Iterator[bytes]:
    """The lines of a verified archive file, as written."""
    archive_verify(name, sha256)
    with archive_storage().open(name, "rb") as stored, gzip.GzipFile(fileobj=stored) as lines:
        yield from lines


def archive_read(name: str, sha256: str) -> Iterator[dict[str, Any]]:
    """The rows of a verified archive file, in the order written."""
    for line in archive_read_lines(name, sha256):
        yield json.loads(line)


def archive_delete(name: str) -> None:
    storage = archive_storage()
    for stored in (name, name + CHECKSUM_SUFFIX):
        if storage.exists(stored):
            storage.delete(stored)


def archive_siblings(prefix: str) -> list[str]:
    """Every archive file written under `prefix` (any checksum), by name."""
    storage = archive_storage()
    folder, _, stem = prefix.rpartition("/")
    try:
        _, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    written = re.compile(rf"{re.escape(stem)}\.[0-9a-f]{{16}}{re.escape(SUFFIX)}")
    return sorted(
        f"{folder}/{file}" if folder else file for file in files if written.fullmatch(file)
    )
