"""Photos people attach to what they report: kept as files outside the database
(``<data_dir>/photos/<id>.<ext>``), each under a random id.

A photo is taken only if both its declared content type and its first bytes say it is a
JPEG, PNG or WebP image, and only up to a size limit; anything else is refused with a
:class:`PhotoRefused` that says why, and nothing is stored. Who may see a photo is the
caller's business: :meth:`PhotoStore.path` finds it by id, no more.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO, Protocol

from cloud.config import CloudSettings

KINDS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
"""The content types taken, and the extension each is stored with."""
MEDIA_TYPES = {ext: media for media, ext in KINDS.items()}
_ID = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 64 * 1024


class Upload(Protocol):
    """What a photo comes as: a form's file (FastAPI's ``UploadFile`` is one)."""

    @property
    def content_type(self) -> str | None: ...

    @property
    def file(self) -> BinaryIO: ...


class PhotoError(Exception):
    """A photo that cannot be stored or found; the message says why."""


class PhotoRefused(PhotoError):
    """The upload is not a photo we take: its type, its content or its size."""


class PhotoTooLarge(PhotoRefused):
    """The upload is larger than the store takes."""


class PhotoNotFound(PhotoError):
    pass


def kind_of(head: bytes) -> str | None:
    """The content type the first bytes of a file show, if it is one we take."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


class PhotoStore:
    """The photos in ``directory``, each at most ``max_bytes``."""

    def __init__(self, directory: Path, max_bytes: int = 5_000_000) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    @classmethod
    def of(cls, settings: CloudSettings) -> PhotoStore:
        """The cloud's photos: ``<data_dir>/photos``, each at most ``photo_max_bytes``."""
        return cls(settings.data_dir / "photos", settings.photo_max_bytes)

    def save(self, upload: Upload) -> str:
        """Store the upload; its new id. :class:`PhotoRefused` for a type other than JPEG,
        PNG or WebP (declared or in fact) or one larger than ``max_bytes``."""
        declared = (upload.content_type or "").split(";")[0].strip().lower()
        if declared not in KINDS:
            raise PhotoRefused(f"a photo must be a JPEG, PNG or WebP image, not {declared!r}")
        data = bytearray()
        while chunk := upload.file.read(_CHUNK):
            data += chunk
            if len(data) > self.max_bytes:
                raise PhotoTooLarge(f"a photo may be at most {self.max_bytes} bytes")
        found = kind_of(bytes(data[:16]))
        if found is None:
            raise PhotoRefused("the file is not a JPEG, PNG or WebP image")
        if found != declared:
            raise PhotoRefused(f"the file is a {found} image, not the {declared} it claims")
        photo_id = secrets.token_hex(16)
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{photo_id}.{KINDS[found]}"
        partial = final.with_suffix(".part")
        with partial.open("xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(final)
        return photo_id

    def path(self, photo_id: str) -> Path:
        """The file of the photo ``photo_id``; :class:`PhotoNotFound` if there is none."""
        if _ID.match(photo_id):
            for ext in MEDIA_TYPES:
                candidate = self.directory / f"{photo_id}.{ext}"
                if candidate.is_file():
                    return candidate
        raise PhotoNotFound(f"no photo {photo_id}")

    @staticmethod
    def media_type(path: Path) -> str:
        """The content type of a stored photo's file."""
        return MEDIA_TYPES[path.suffix.lstrip(".")]
