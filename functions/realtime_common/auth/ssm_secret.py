"""An HS256 secret from an SSM SecureString (``JWT_SECRET_PARAMETER``): dev and the local stack."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from realtime_common.auth.errors import KeySourceError
from realtime_common.auth.keys import VerificationKey
from realtime_common.logs import loggable, make_logger

if TYPE_CHECKING:  # stubs are a dev-only dependency (boto3-stubs[ssm])
    from mypy_boto3_ssm import SSMClient

logger = make_logger()

# RFC 7518 section 3.2: an HS256 key is at least as long as the hash output (32 bytes).
MIN_SECRET_BYTES = 32
# The secret is re-read this often, so a rotation reaches warm environments.
SECRET_REFRESH_SECONDS = 300.0


@dataclass
class SsmSecretKey:
    """An HS256 secret read from an SSM SecureString (WithDecryption), cached and re-read every
    ``refresh_seconds``. A failed re-read keeps the cached secret; with none cached it denies.
    """

    ssm: SSMClient
    name: str
    refresh_seconds: float = SECRET_REFRESH_SECONDS
    secret: bytes | None = None
    fetched_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def key_for(self, header: Mapping[str, Any], now: float) -> VerificationKey:
        with self.lock:
            if self.fetched_at is None or now - self.fetched_at >= self.refresh_seconds:
                self._refresh(now)
            if self.secret is None:
                raise KeySourceError(f"the secret in SSM parameter {self.name} is not available")
            return self.secret

    def _refresh(self, now: float) -> None:
        self.fetched_at = now
        try:
            parameter = self.ssm.get_parameter(Name=self.name, WithDecryption=True)["Parameter"]
        except (BotoCoreError, ClientError) as error:
            logger.warning(
                "SSM secret read failed",
                extra={"parameter": self.name, "error": loggable(str(error), 200)},
            )
            return
        value = parameter.get("Value", "").encode()
        if parameter.get("Type") != "SecureString":
            logger.error("secret parameter is not a SecureString", extra={"parameter": self.name})
            self.secret = None
        elif len(value) < MIN_SECRET_BYTES:
            logger.error(
                "secret parameter is too short for HS256",
                extra={"parameter": self.name, "minimum_bytes": MIN_SECRET_BYTES},
            )
            self.secret = None
        else:
            self.secret = value
