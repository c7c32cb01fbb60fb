"""Encrypted layers: tampering never reaches the tree (issue 15, findings 7 and 13).

fspatch's own format (2) is AES-256-GCM with the header as associated data, so one changed or
cut byte anywhere is refused before any plaintext exists.  FlagScale's ``iv | rsa(key) | data``
CBC form has no MAC; it stays readable, is reported as unauthenticated, and its plaintext is
checked strictly (starts like a patch, parses, every file diff's ``index`` ids agree with what
applying it gives) before anything is written.  The CBC tests flip a byte in *every* block
and check that each one is refused with the workspace and checkout exactly as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fspatch.core import crypto
from tests.hardutil import cli, git_diff_of, one_error_line, tree_snapshot
from tests.wsutil import WS, make_workspace

LAYER = Path("vendors", "acme", "minillm")
NAME = "0001-acme.patch.encrypted"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _vendor_edit(tree: Path) -> None:
    """A realistic vendor change: C++ header and Python, several hunks, git's abbreviated index lines."""
    ops = tree / "csrc/ops.h"
    ops.write_text(ops.read_text() + "// --- FLAGSCALE MODIFICATION BEG ---\nvoid acme_sync();\n// --- FLAGSCALE MODIFICATION END ---\n")
    init = tree / "minillm/__init__.py"
    init.write_text("# --- FLAGSCALE MODIFICATION BEG ---\nACME_NPU = True\n# --- FLAGSCALE MODIFICATION END ---\n" + init.read_text())
    readme = tree / "README.md"
    readme.write_text(readme.read_text().replace("A tiny LLM", "A tiny (Acme NPU ready) LLM"))


@pytest.fixture
def ws(tmp_path: Path, key: rsa.RSAPrivateKey) -> tuple[WS, Path, bytes]:
    """The example workspace, vendor acme with one encrypted patch slot, the key as PEM, the plaintext."""
    w = make_workspace(tmp_path)
    assert cli(w.root, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@acme.example").exit_code == 0
    assert cli(w.root, "vendor", "layer", "acme", "minillm", "--task", "inference").exit_code == 0
    (w.root / LAYER / "series").write_text(NAME + "\n")
    pem = tmp_path / "acme.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    plain = git_diff_of(w.upstream, "v1.0", _vendor_edit)
    assert plain.startswith(b"diff --git ") and b"\nindex " in plain
    return w, pem, plain


def _apply(w: WS, pem: Path, blob: bytes) -> tuple[Result, dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
    (w.root / LAYER / NAME).write_bytes(blob)
    before = tree_snapshot(w.root)
    r = cli(w.root, "apply", "minillm", "--vendor", "acme", "--key", str(pem))
    return r, before, tree_snapshot(w.root)


def test_authenticated_format_applies_without_a_warning(ws: tuple[WS, Path, bytes], key: rsa.RSAPrivateKey) -> None:
    """Format 2 (GCM) decrypts in memory, applies, and is not reported as unauthenticated."""
    w, pem, plain = ws
    r, _, _ = _apply(w, pem, crypto.encrypt(plain, key.public_key()))
    assert r.exit_code == 0, r.output
    assert "unauthenticated" not in r.output
    assert "ACME_NPU = True" in (w.checkout / "minillm/__init__.py").read_text()


@pytest.mark.parametrize("where", ["magic", "nonce", "length", "wrapped-key", "first-block", "middle", "tag", "cut-tail", "cut-head"])
def test_authenticated_format_refuses_any_change(ws: tuple[WS, Path, bytes], key: rsa.RSAPrivateKey, where: str) -> None:
    """One flipped or cut byte anywhere in a format-2 file: exit 2, one clear line, nothing written."""
    w, pem, plain = ws
    blob = bytearray(crypto.encrypt(plain, key.public_key()))
    head = 22 + 256
    spots = {"magic": 6, "nonce": 10, "length": 21, "wrapped-key": 100, "first-block": head, "middle": head + len(plain) // 2, "tag": len(blob) - 3}
    if where == "cut-tail":
        blob = blob[:-16]
    elif where == "cut-head":
        blob = blob[: head] + blob[head + 16 :]
    else:
        blob[spots[where]] ^= 0x01
    r, before, after = _apply(w, pem, bytes(blob))
    line = one_error_line(r)
    assert r.exit_code == 2, r.output
    assert NAME in line
    assert any(word in line for word in ("authentication failed", "cannot unwrap", "truncated", "encrypted")), line
    assert after == before


def test_flagscale_cbc_form_applies_and_is_reported_unauthenticated(ws: tuple[WS, Path, bytes], key: rsa.RSAPrivateKey) -> None:
    """FlagScale's iv | rsa(key) | data file applies as before, with a warning that no MAC vouched for it."""
    w, pem, plain = ws
    r, _, _ = _apply(w, pem, crypto.encrypt_cbc(plain, key.public_key(), flagscale=True))
    assert r.exit_code == 0, r.output
    assert f"warning: {LAYER.as_posix()}/{NAME}: unauthenticated encryption" in r.output
    assert "Acme NPU ready" in (w.checkout / "README.md").read_text()


def test_flagscale_cbc_flipped_byte_in_every_block_is_refused(ws: tuple[WS, Path, bytes], key: rsa.RSAPrivateKey) -> None:
    """A flipped byte in the IV or in any CBC block garbles plaintext silently; each one is refused before writing."""
    w, pem, plain = ws
    blob = crypto.encrypt_cbc(plain, key.public_key(), flagscale=True)
    data_start = 16 + 256
    blocks = (len(blob) - data_start) // 16
    positions = [3, 11] + [data_start + 16 * b + (7 * b) % 16 for b in range(blocks)]
    slipped = []
    for pos in positions:
        bad = bytearray(blob)
        bad[pos] ^= 0x20
        r, before, after = _apply(w, pem, bytes(bad))
        if r.exit_code == 0 or after != before:
            slipped.append(pos)
            continue
        one_error_line(r)
        assert r.exit_code in (1, 2), r.output
    assert slipped == [], f"damaged CBC files applied (byte offsets {slipped} of {len(blob)})"
    assert len(positions) > 20  # the test covers a real multi-block file


@pytest.mark.parametrize("cut", [1, 2, 5])
def test_flagscale_cbc_with_leading_blocks_cut_is_refused(ws: tuple[WS, Path, bytes], key: rsa.RSAPrivateKey, cut: int) -> None:
    """Cutting the first ciphertext blocks leaves garbage then the rest of the patch: refused, not a dropped file."""
    w, pem, plain = ws
    blob = crypto.encrypt_cbc(plain, key.public_key(), flagscale=True)
    data_start = 16 + 256
    r, before, after = _apply(w, pem, blob[:data_start] + blob[data_start + 16 * cut :])
    line = one_error_line(r)
    assert r.exit_code == 2 and NAME in line, r.output
    assert after == before


def test_encrypted_patch_without_key_says_to_give_the_key(ws: tuple[WS, Path, bytes], key: rsa.RSAPrivateKey) -> None:
    """apply without --key on an encrypted layer names the file and --key, not 'binary data … not a patch'."""
    w, _, plain = ws
    (w.root / LAYER / NAME).write_bytes(crypto.encrypt(plain, key.public_key()))
    before = tree_snapshot(w.root)
    r = cli(w.root, "apply", "minillm", "--vendor", "acme")
    line = one_error_line(r)
    assert r.exit_code == 2
    assert f"{LAYER.as_posix()}/{NAME}" in line and "encrypted" in line and "--key" in line, line
    assert "binary data" not in line
    assert tree_snapshot(w.root) == before


def test_encrypted_bytes_under_a_plain_name_say_so(ws: tuple[WS, Path, bytes], key: rsa.RSAPrivateKey) -> None:
    """An encrypted file renamed to *.patch is still recognised by its magic and named as encrypted."""
    w, _, plain = ws
    (w.root / LAYER / "series").write_text("0001-acme.patch\n")
    (w.root / LAYER / "0001-acme.patch").write_bytes(crypto.encrypt(plain, key.public_key()))
    r = cli(w.root, "apply", "minillm", "--vendor", "acme")
    line = one_error_line(r)
    assert r.exit_code == 2 and "encrypted" in line and "--key" in line, line
