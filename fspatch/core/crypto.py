"""Confidential layers: patch files encrypted for one recipient, decrypted only in memory.

Some vendors publish their patches only as ``*.patch.encrypted``.  The content key is a random
AES-256 key, wrapped with the recipient's RSA public key (RSA-4096 in practice) using OAEP with
SHA-256 (MGF1-SHA-256, no label).

Encrypted file layout, format 2 (what :func:`encrypt` writes; authenticated)::

    offset  size   content
    0       8      magic  b"FSPENC2\\n"
    8       12     nonce for AES-256-GCM
    20      2      L = length of the wrapped key, unsigned big-endian (512 for RSA-4096)
    22      L      the 32-byte AES key, RSA-OAEP(SHA-256) encrypted to the recipient
    22+L    rest   AES-256-GCM ciphertext of the plaintext, then its 16-byte tag

The first ``22+L`` bytes (magic, nonce, length, wrapped key) are the GCM associated data, so
one changed, cut or added byte anywhere in the file fails the tag and is refused before any
plaintext is used.

Read for compatibility, **unauthenticated** (AES-256-CBC with PKCS#7 padding, no MAC):

* format 1: ``b"FSPENC1\\n" | IV (16) | L (2) | wrapped key (L) | CBC data`` (fspatch before
  format 2; the openssl recipe below still makes it);
* FlagScale's magic-less form ``IV (16) | wrapped key (the private key's size) | CBC data``
  (``tools/patch/encryption_utils.py``), which vendors already ship.

CBC without a MAC lets a flipped byte garble one block and flip a byte of the next, a flipped
IV byte change the first 16 bytes, and cut blocks drop text, all without any error from the
cipher.  So :func:`open_sealed` says whether the plaintext was authenticated, and callers check
an unauthenticated one as far as the content allows before anything is written: the padding,
that the plaintext starts like a patch and parses strictly, and that every file diff carries an
``index`` line whose preimage and postimage ids match what applying it gives
(:func:`fspatch.core.stack.apply_files` with ``strict=True``).

What this does not give: the recipient's public key is public, so anyone holding it can make a
new file of any format.  Authenticity of the *sender* comes from where the file is fetched
(a signed workspace commit), not from this format; see ``docs/security.md``.

A vendor can produce format 1 with openssl alone::

    openssl rand 32 > key.bin; openssl rand 16 > iv.bin
    openssl pkeyutl -encrypt -pubin -inkey recipient.pub.pem -in key.bin -out wrapped.bin \\
        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
    openssl enc -aes-256-cbc -K "$(xxd -p -c 64 key.bin)" -iv "$(xxd -p iv.bin)" \\
        -in diff.patch -out data.bin
    { printf 'FSPENC1\\n'; cat iv.bin; printf '\\002\\000'; cat wrapped.bin data.bin; } \\
        > diff.patch.encrypted

Why nothing here touches files: the plaintext of a confidential layer exists only in memory
(and in the stack commits ``apply`` was asked to build); callers read and write the bytes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fspatch.errors import InputError, UsageError

__all__ = [
    "ENCRYPTED_SUFFIX",
    "MAGIC",
    "MAGIC_CBC",
    "Opened",
    "check_unauthenticated",
    "decrypt",
    "encrypt",
    "encrypt_cbc",
    "is_encrypted_name",
    "looks_encrypted",
    "load_private_key",
    "load_public_key",
    "open_sealed",
]

MAGIC = b"FSPENC2\n"
MAGIC_CBC = b"FSPENC1\n"
ENCRYPTED_SUFFIX = ".encrypted"
_IV = 16
_NONCE = 12
_TAG = 16
_KEY = 32


@dataclass(frozen=True)
class Opened:
    """A decrypted file: its plaintext, and whether a MAC proved it unaltered."""

    data: bytes
    authenticated: bool
    format: str  # "fspatch-2 (AES-256-GCM)", "fspatch-1 (AES-256-CBC)", "FlagScale (AES-256-CBC)"


def is_encrypted_name(name: str) -> bool:
    """True for ``*.patch.encrypted`` (any ``*.encrypted``) file names."""
    return name.endswith(ENCRYPTED_SUFFIX)


def looks_encrypted(name: str, data: bytes) -> bool:
    """True for a file that is one of the encrypted formats by its name or its magic."""
    return is_encrypted_name(name) or data.startswith((MAGIC, MAGIC_CBC))


def _oaep() -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def load_private_key(path: Path) -> Any:
    """An RSA private key from a PEM file (unencrypted PEM)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"cannot read private key: {exc}", path=str(path)) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UsageError("not an RSA private key", path=str(path))
    return key


def load_public_key(path: Path) -> Any:
    """An RSA public key from a PEM file (a private key PEM is accepted too)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = _read(path)
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"cannot read public key: {exc}", path=str(path)) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise UsageError("not an RSA public key", path=str(path))
    return key


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read: {exc.strerror}", path=str(path)) from None


def encrypt(data: bytes, public_key: Any, *, nonce: bytes | None = None, content_key: bytes | None = None) -> bytes:
    """Format 2 (AES-256-GCM) bytes for ``data``.  ``nonce``/``content_key`` are for tests."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = content_key if content_key is not None else os.urandom(_KEY)
    nonce = nonce if nonce is not None else os.urandom(_NONCE)
    wrapped: bytes = public_key.encrypt(key, _oaep())
    head = MAGIC + nonce + struct.pack(">H", len(wrapped)) + wrapped
    return head + AESGCM(key).encrypt(nonce, data, head)


def encrypt_cbc(data: bytes, public_key: Any, *, flagscale: bool = False, iv: bytes | None = None) -> bytes:
    """Format 1 (or, with ``flagscale``, FlagScale's magic-less form): for tests and old readers only."""
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = os.urandom(_KEY)
    iv = iv if iv is not None else os.urandom(_IV)
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    body = enc.update(padded) + enc.finalize()
    wrapped: bytes = public_key.encrypt(key, _oaep())
    if flagscale:
        return iv + wrapped + body
    return MAGIC_CBC + iv + struct.pack(">H", len(wrapped)) + wrapped + body


def decrypt(blob: bytes, private_key: Any, display: str = "<encrypted>") -> bytes:
    """The plaintext of any supported format (see :func:`open_sealed` for whether it was authenticated)."""
    return open_sealed(blob, private_key, display).data


def _unwrap(wrapped: bytes, private_key: Any, display: str) -> bytes:
    try:
        key: bytes = private_key.decrypt(wrapped, _oaep())
    except ValueError:
        raise InputError("cannot unwrap the content key: wrong private key or damaged file", path=display) from None
    if len(key) != _KEY:
        raise InputError("the content key is not an AES-256 key", path=display)
    return key


def _header(blob: bytes, magic: bytes, iv_size: int, display: str) -> tuple[bytes, bytes, bytes, int]:
    """(iv or nonce, wrapped key, body, header length) of a magic-prefixed format."""
    head = len(magic)
    if len(blob) < head + iv_size + 2:
        raise InputError("encrypted file is truncated", path=display)
    iv = blob[head : head + iv_size]
    (n,) = struct.unpack(">H", blob[head + iv_size : head + iv_size + 2])
    start = head + iv_size + 2
    wrapped, body = blob[start : start + n], blob[start + n :]
    if len(wrapped) != n:
        raise InputError("encrypted file is truncated", path=display)
    return iv, wrapped, body, start + n


def open_sealed(blob: bytes, private_key: Any, display: str = "<encrypted>") -> Opened:
    """Decrypt format 2, format 1 or FlagScale's form; any damage or a wrong key is an InputError.

    Format 2 is authenticated: a tampered file never yields plaintext.  The CBC forms are not:
    their plaintext comes back with ``authenticated=False`` for the caller to check.
    """
    if blob.startswith(MAGIC):
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce, wrapped, body, head = _header(blob, MAGIC, _NONCE, display)
        if len(body) < _TAG:
            raise InputError("encrypted file is truncated (no authentication tag)", path=display)
        key = _unwrap(wrapped, private_key, display)
        try:
            plain: bytes = AESGCM(key).decrypt(nonce, body, blob[:head])
        except InvalidTag:
            raise InputError(
                "authentication failed: the encrypted file was altered or damaged (nothing was decrypted)",
                path=display,
            ) from None
        return Opened(plain, True, "fspatch-2 (AES-256-GCM)")
    if blob.startswith(MAGIC_CBC):
        iv, wrapped, body, _ = _header(blob, MAGIC_CBC, _IV, display)
        kind = "fspatch-1 (AES-256-CBC)"
    else:
        n = private_key.key_size // 8
        iv, wrapped, body = blob[:_IV], blob[_IV : _IV + n], blob[_IV + n :]
        kind = "FlagScale (AES-256-CBC)"
    return Opened(_cbc(iv, wrapped, body, private_key, display), False, kind)


_PATCH_STARTS = (b"diff --git ", b"From ", b"From: ", b"Subject: ", b"Index: ", b"--- ")


def check_unauthenticated(plain: bytes, display: str) -> None:
    """The first check of a CBC plaintext: it must start as a patch starts.

    Why: a flipped IV byte changes the first 16 plaintext bytes and cut leading blocks leave
    16 bytes of garbage; a lenient patch reader skips text before the first diff, so the
    damage would pass.  The parse and the index-line checks that follow do the rest.
    """
    if not plain.startswith(_PATCH_STARTS):
        raise InputError(
            "unauthenticated encrypted patch (AES-256-CBC, no MAC) does not start like a patch: "
            "damaged or altered; ask the vendor for a new file",
            path=display,
        )


def _cbc(iv: bytes, wrapped: bytes, body: bytes, private_key: Any, display: str) -> bytes:
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if not body or len(body) % 16:
        raise InputError("encrypted data is truncated (not a whole number of AES blocks)", path=display)
    key = _unwrap(wrapped, private_key, display)
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = dec.update(body) + dec.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    try:
        plain: bytes = unpadder.update(padded) + unpadder.finalize()
        return plain
    except ValueError:
        raise InputError("bad padding after decryption: damaged file", path=display) from None
