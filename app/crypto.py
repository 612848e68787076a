"""Keys for residents' identities: openids are stored only as keyed hashes, phone numbers only
encrypted. Both keys come from the environment in production (config.py refuses to start
without them); in development they are derived from SECRET_KEY.

PHONE_ENCRYPTION_KEY may list several Fernet keys, newest first ("new,old"): new values are
encrypted with the first, stored values are read with whichever key made them, and
`flask --app run crypto rotate` re-encrypts every stored value with the first key, after which
the old key can be dropped. IDENTITY_HASH_KEY cannot rotate: a keyed hash cannot be recomputed
without the openid it came from, so a new key would make every resident a stranger.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from app.errors import ApiError

log = logging.getLogger(__name__)

# Columns holding `encrypt_text` output are named like this, whatever package owns them.
ENCRYPTED_COLUMN_SUFFIX = "_encrypted"


class DecryptionFailed(ApiError):
    """A stored secret no configured key can read: the key changed without a rotation."""

    def __init__(self) -> None:
        super().__init__(
            500,
            "decryption_failed",
            "无法解密已保存的信息：PHONE_ENCRYPTION_KEY 与加密时的密钥不一致，请联系系统管理员",
        )


def _derived(purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{current_app.config['SECRET_KEY']}".encode()).digest()


def _identity_key() -> bytes:
    configured = current_app.config.get("IDENTITY_HASH_KEY")
    return configured.encode() if configured else _derived("identity-hash")


def hash_identity(kind: str, value: str) -> str:
    """A keyed hash (HMAC-SHA256, hex) of an openid or device id; the value is never stored."""
    return hmac.new(_identity_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _fernet() -> MultiFernet:
    configured = current_app.config.get("PHONE_ENCRYPTION_KEY")
    if not configured:
        return MultiFernet([Fernet(base64.urlsafe_b64encode(_derived("phone")))])
    return MultiFernet([Fernet(key.strip().encode()) for key in configured.split(",")])


def encrypt_text(plain: str) -> str:
    """Encrypt a short secret (a reporter's phone number) for storage, with the newest key."""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    """Decrypt what `encrypt_text` stored; a wrong key is a clear error, never garbage."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        log.error("stored secret cannot be decrypted: PHONE_ENCRYPTION_KEY does not match")
        raise DecryptionFailed() from exc


def reencrypt_text(token: str) -> str:
    """The same secret encrypted with the newest key (for a key rotation)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed() from exc


def rotate_stored_secrets() -> dict[str, int]:
    """Re-encrypt every `*_encrypted` column with the newest key; rows changed per column."""
    import sqlalchemy as sa

    from app.extensions import db

    changed: dict[str, int] = {}
    for table in db.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        for column in table.columns:
            if not column.name.endswith(ENCRYPTED_COLUMN_SUFFIX):
                continue
            count = 0
            rows = db.session.execute(sa.select(*keys, column).where(column.is_not(None))).all()
            for *ids, token in rows:
                db.session.execute(
                    sa.update(table)
                    .where(*(key == value for key, value in zip(keys, ids, strict=True)))
                    .values({column.name: reencrypt_text(token)})
                )
                count += 1
            changed[f"{table.name}.{column.name}"] = count
    return changed
