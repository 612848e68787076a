"""Keys for residents' identities: openids are stored only as keyed hashes, phone numbers only
encrypted. Both keys come from the environment in production (config.py refuses to start
without them); in development they are derived from SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _derived(purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{current_app.config['SECRET_KEY']}".encode()).digest()


def _identity_key() -> bytes:
    configured = current_app.config.get("IDENTITY_HASH_KEY")
    return configured.encode() if configured else _derived("identity-hash")


def hash_identity(kind: str, value: str) -> str:
    """A keyed hash (HMAC-SHA256, hex) of an openid or device id; the value is never stored."""
    return hmac.new(_identity_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _fernet() -> Fernet:
    configured = current_app.config.get("PHONE_ENCRYPTION_KEY")
    key = configured.encode() if configured else base64.urlsafe_b64encode(_derived("phone"))
    return Fernet(key)


def encrypt_text(plain: str) -> str:
    """Encrypt a short secret (a reporter's phone number) for storage."""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    """Decrypt what `encrypt_text` stored; a wrong key is an error, never garbage."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError("无法解密：PHONE_ENCRYPTION_KEY 与加密时的密钥不一致") from exc
