"""kata10's document root, built afresh for every grading run.

Rules: every file is made from the run's seed, so ``--seed`` reproduces a
failure byte for byte. The root holds what a file server meets in real life
(ASCII and UTF-8 text, binary files, a 20 MiB file, nested folders, names
with spaces, percent signs and non-ASCII letters, an index.html) and one
trap: a secret file *beside* the root, reachable only by escaping it (``..``,
``%2e%2e``, an absolute path, or one of the two symlinks inside the root that
point out). The fixture fills ``ctx.flag_values["root"]`` before the first
server starts, so every server of the run gets ``--root``; katas without a
``root`` flag get nothing and pay nothing.

Fixtures: ``docroot`` (a DocRoot, or None for other katas).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

LARGE = 20 * 1024 * 1024


@dataclass(frozen=True)
class Doc:
    """One file under the root, and how a client names it."""

    name: str              # path under the root, as on disk
    body: bytes
    types: tuple[str, ...]  # media types a Content-Type may name (parameters aside)

    @property
    def url(self) -> str:
        return "/" + quote(self.name)


@dataclass
class DocRoot:
    base: Path             # holds the root and, beside it, the secret
    root: Path
    secret: Path
    secret_body: bytes
    docs: dict[str, Doc] = field(default_factory=dict)

    def doc(self, name: str) -> Doc:
        return self.docs[name]

    @property
    def index(self) -> Doc:
        return self.docs["index.html"]

    @property
    def large(self) -> Doc:
        return self.docs["big.bin"]


TEXT = ("text/plain",)
HTML = ("text/html",)
OCTETS = ("application/octet-stream",)


def build(base: Path, rng: random.Random) -> DocRoot:
    token = rng.randbytes(12).hex()
    root = base / "www"
    secret = base / "secret.txt"
    docs = [
        Doc("index.html", f"<!doctype html>\n<title>kata10</title>\n<p>the root's index ({token})</p>\n".encode(), HTML),
        Doc("hello.txt", f"hello, world ({token})\n".encode(), TEXT),
        Doc("utf8.txt", f"héllo wörld — ✓ ünïcödé ({token})\n".encode(), TEXT),
        Doc("image.png", b"\x89PNG\r\n\x1a\n" + rng.randbytes(6000), ("image/png",)),
        Doc("data.bin", bytes(range(256)) * 8 + rng.randbytes(70_000), OCTETS),
        Doc("nested/deeper/notes.txt", f"three levels down ({token})\n".encode() * 20, TEXT),
        Doc("my notes.txt", f"a name with a space ({token})\n".encode(), TEXT),
        Doc("100% done.txt", f"a name with a percent sign ({token})\n".encode(), TEXT),
        Doc("café.txt", f"a name that is not ASCII ({token})\n".encode(), TEXT),
        Doc("big.bin", rng.randbytes(LARGE), OCTETS),
    ]
    tree = DocRoot(base=base, root=root, secret=secret,
                   secret_body=f"TOP SECRET {token}: not one byte of this file may leave the server\n".encode())
    for doc in docs:
        path = root / doc.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(doc.body)
        tree.docs[doc.name] = doc
    (root / "empty").mkdir()                       # a folder without index.html
    secret.write_bytes(tree.secret_body)
    (root / "escape").symlink_to(base)             # a folder symlink leading out
    (root / "secret-link.txt").symlink_to(secret)  # a file symlink leading out
    # The learner's program may run as another user: it must be able to read
    # everything, the secret included (or a leak could not show).
    for folder, dirs, files in os.walk(base):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return tree


@pytest.fixture(scope="session", autouse=True)
def docroot(ctx):
    if "root" not in ctx.kata.flags:
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix="kata10-docs-"))
    try:
        tree = build(base, random.Random(ctx.seed ^ zlib.crc32(b"docroot")))
        ctx.flag_values["root"] = str(tree.root)
        yield tree
    finally:
        shutil.rmtree(base, ignore_errors=True)
