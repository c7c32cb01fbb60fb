"""Confidential layers: patch files encrypted for one recipient, decrypted only in memory.

Some vendors publish their patches only as ``*.patch.encrypted``.  The content key is a random
AES-256 key, wrapped with the recipient's RSA public key (RSA-4096 in practice) using OAEP with
SHA-256 (MGF1-SHA-256, no label); the data is AES-256-CBC with PKCS#7 padding.

Encrypted file layout, format 1 (what :func:`encrypt` writes)::

    offset  size   content
    0       8      magic  b"FSPENC1\\n"
    8       16     IV for AES-256-CBC
    24      2      L = length of the wrapped key, unsigned big-endian (512 for RSA-4096)
    26      L      the 32-byte AES key, RSA-OAEP(SHA-256) encrypted to the recipient
    26+L    rest   AES-256-CBC ciphertext of the PKCS#7-padded plaintext

:func:`decrypt` also reads the magic-less form some vendors already ship: ``IV (16) | wrapped
key (exactly the private key's size in bytes) | data``.

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
from pathlib import Path
from typing import Any

from fspatch.errors import InputError, UsageError

__all__ = [
    "ENCRYPTED_SUFFIX",
    "MAGIC",
    "decrypt",
    "encrypt",
    "is_encrypted_name",
    "load_private_key",
    "load_public_key",
]

MAGIC = b"FSPENC1\n"
ENCRYPTED_SUFFIX = ".encrypted"
_IV = 16
_KEY = 32


def is_encrypted_name(name: str) -> bool:
    """True for ``*.patch.encrypted`` (any ``*.encrypted``) file names."""
    return name.endswith(ENCRYPTED_SUFFIX)


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


def encrypt(data: bytes, public_key: Any, *, iv: bytes | None = None, content_key: bytes | None = None) -> bytes:
    """Format 1 bytes for ``data``.  ``iv``/``content_key`` are for tests; OAEP stays randomised."""
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = content_key if content_key is not None else os.urandom(_KEY)
    iv = iv if iv is not None else os.urandom(_IV)
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    body = enc.update(padded) + enc.finalize()
    wrapped: bytes = public_key.encrypt(key, _oaep())
    return MAGIC + iv + struct.pack(">H", len(wrapped)) + wrapped + body


def decrypt(blob: bytes, private_key: Any, display: str = "<encrypted>") -> bytes:
    """The plaintext of format 1 (or magic-less) bytes; any damage or wrong key is an InputError."""
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if blob.startswith(MAGIC):
        head = len(MAGIC)
        if len(blob) < head + _IV + 2:
            raise InputError("encrypted file is truncated", path=display)
        iv = blob[head : head + _IV]
        (n,) = struct.unpack(">H", blob[head + _IV : head + _IV + 2])
        start = head + _IV + 2
        wrapped, body = blob[start : start + n], blob[start + n :]
        if len(wrapped) != n:
            raise InputError("encrypted file is truncated", path=display)
    else:
        n = private_key.key_size // 8
        iv, wrapped, body = blob[:_IV], blob[_IV : _IV + n], blob[_IV + n :]
    if not body or len(body) % 16:
        raise InputError("encrypted data is truncated (not a whole number of AES blocks)", path=display)
    try:
        key = private_key.decrypt(wrapped, _oaep())
    except ValueError:
        raise InputError("cannot unwrap the content key: wrong private key or damaged file", path=display) from None
    if len(key) != _KEY:
        raise InputError("the content key is not an AES-256 key", path=display)
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = dec.update(body) + dec.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    try:
        plain: bytes = unpadder.update(padded) + unpadder.finalize()
        return plain
    except ValueError:
        raise InputError("bad padding after decryption: damaged file", path=display) from None
