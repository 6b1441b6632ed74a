"""Password and secret hashing with Argon2id (argon2-cffi): salted, self-describing hashes.

Hashes are PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) holding their own
parameters, so a stored hash keeps verifying after the costs change. Hashing takes tens of
milliseconds by design; it runs in eventlet's thread pool when the process is monkey-patched
so that other requests go on meanwhile.
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


def _offload(func, *args):
    from common.green import eventlet

    if eventlet.patcher.is_monkey_patched("thread"):
        import eventlet.tpool

        return eventlet.tpool.execute(func, *args)
    return func(*args)


class Hasher:
    """Hashes and checks passwords and application credential secrets."""

    def __init__(self, time_cost: int = 2, memory_kib: int = 19456, parallelism: int = 1):
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                      parallelism=parallelism)
        # Checked against when the user is unknown, so both cases cost the same.
        self._dummy = self._hasher.hash("brume-no-such-user")

    def hash(self, secret: str) -> str:
        return _offload(self._hasher.hash, secret)

    def verify(self, stored: str | None, secret: str) -> bool:
        """Whether `secret` matches `stored` (None: no such user; still costs a check)."""
        try:
            return bool(_offload(self._hasher.verify, stored or self._dummy, secret)) \
                and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
