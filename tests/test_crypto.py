"""The encrypted patch format: round trips, the magic-less form, openssl compatibility, refusals."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fspatch.core import crypto
from fspatch.errors import InputError

DATA = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"


def _key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def test_rsa4096_round_trip_and_layout() -> None:
    """RSA-4096, format 2: magic, 12-byte nonce, 2-byte length 512, wrapped key, GCM data + 16-byte tag."""
    k = _key(4096)
    blob = crypto.encrypt(DATA, k.public_key())
    assert blob.startswith(b"FSPENC2\n")
    assert blob[20:22] == b"\x02\x00"
    assert len(blob) == 22 + 512 + len(DATA) + 16
    opened = crypto.open_sealed(blob, k)
    assert opened.data == DATA and opened.authenticated


def test_format1_round_trip_and_layout() -> None:
    """Format 1 (CBC, before format 2): magic, IV, 2-byte length, wrapped key, AES blocks; read, unauthenticated."""
    k = _key(4096)
    blob = crypto.encrypt_cbc(DATA, k.public_key())
    assert blob.startswith(b"FSPENC1\n")
    assert blob[24:26] == b"\x02\x00"
    assert (len(blob) - 26 - 512) % 16 == 0
    opened = crypto.open_sealed(blob, k)
    assert opened.data == DATA and not opened.authenticated


def test_magicless_vendor_form_is_read() -> None:
    """IV | wrapped key | data without the magic (FlagScale's encryption_utils) decrypts, unauthenticated."""
    k = _key()
    blob = crypto.encrypt_cbc(DATA, k.public_key())
    raw = blob[8:24] + blob[26:]
    assert crypto.decrypt(raw, k) == DATA
    assert not crypto.open_sealed(crypto.encrypt_cbc(DATA, k.public_key(), flagscale=True), k).authenticated


def test_wrong_key_or_damage_is_input_error() -> None:
    """A wrong key or a truncated file is an InputError naming the file, never garbage output."""
    blob = crypto.encrypt(DATA, _key().public_key())
    with pytest.raises(InputError, match="x.patch.encrypted"):
        crypto.decrypt(blob, _key(), "x.patch.encrypted")
    with pytest.raises(InputError):
        crypto.decrypt(blob[:-3], _key(), "x")


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("xxd") is None, reason="needs openssl and xxd")
def test_openssl_recipe_in_docstring_produces_readable_file(tmp_path: Path) -> None:
    """The openssl commands documented in core/crypto.py make a file fspatch decrypts."""
    k = _key()
    pub = tmp_path / "recipient.pub.pem"
    pub.write_bytes(k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "diff.patch").write_bytes(DATA)
    script = """
set -e
openssl rand 32 > key.bin; openssl rand 16 > iv.bin
openssl pkeyutl -encrypt -pubin -inkey recipient.pub.pem -in key.bin -out wrapped.bin \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
openssl enc -aes-256-cbc -K "$(xxd -p -c 64 key.bin)" -iv "$(xxd -p iv.bin)" -in diff.patch -out data.bin
{ printf 'FSPENC1\\n'; cat iv.bin; printf '\\001\\000'; cat wrapped.bin data.bin; } > diff.patch.encrypted
"""
    subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True, capture_output=True)
    assert crypto.decrypt((tmp_path / "diff.patch.encrypted").read_bytes(), k) == DATA
