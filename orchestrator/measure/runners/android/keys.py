"""The user's ADB key, the one the platform `adb` uses (so a phone that trusts `adb` trusts us):
loaded only when a phone asks to authenticate, made when absent as `adb` does on first use, and
refused when other users can read it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from adb_shell.auth.keygen import write_public_keyfile
from adb_shell.auth.sign_cryptography import CryptographySigner
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.files import atomic_path
from orchestrator.measure.runners.base import RunnerError

DEFAULT_KEY = Path.home() / ".android" / "adbkey"


class AdbKeyError(RunnerError):
    """The user's ADB key cannot be used as it is: other users can read it, or it is unreadable or malformed."""


def _make_key(key_path: Path) -> None:
    """A new key as adb-shell's keygen makes it (RSA 2048, PKCS#8 PEM), but private from its first
    byte, as the platform adb keeps it: written to a 0600 temporary file (in a folder made 0700 when
    it is new) and linked into place, so no one else can ever read it, no reader finds it half
    written, and a key that another process made meanwhile is kept. Modes are given at creation
    rather than through the umask, which is the whole process's and would reach other threads."""
    key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, partial = tempfile.mkstemp(prefix=f".{key_path.name}.", suffix=".tmp", dir=key_path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(partial, key_path)
        except FileExistsError:
            pass  # another process made the key first; it is as good as ours
    finally:
        os.unlink(partial)


def _unusable(key_path: Path, exc: Exception) -> AdbKeyError:
    return AdbKeyError(
        f"the ADB key {key_path} cannot be used ({exc}); delete it (a new one is made and the phone asks once more) "
        "or point BENCH_ADB_KEY at a valid key"
    )


# (path, then device, inode, size and mtime of the key and of its .pub) -> the signer loaded from them.
_signers: dict[tuple[str, tuple[int, ...], tuple[int, ...]], CryptographySigner] = {}


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _load_signer(key_path: Path) -> CryptographySigner:
    """The user's ADB key, the one the platform `adb` uses, so a phone that trusts `adb` trusts us;
    made when absent, as `adb` does on first use. A key that other users can read is refused rather
    than used: whoever reads it is trusted by every phone that trusts this computer. It signs through
    `cryptography` (OpenSSL), not adb-shell's pure-Python RSA, which took about 80 ms a token.

    Loading checks the RSA key (~45 ms of OpenSSL here) and every connection to a phone asks for it,
    so a process keeps the signer of a key file it has loaded until that file or its .pub changes
    (keys are replaced by a rename, which gives a new inode); the mode is checked every time."""
    try:
        if not key_path.exists():
            _make_key(key_path)
        key_stat = key_path.stat()
    except OSError as exc:
        raise _unusable(key_path, exc) from None
    if key_stat.st_mode & 0o044:
        raise AdbKeyError(f"the ADB key {key_path} is readable by other users; run `chmod 600 {key_path}` and try again")
    try:
        public = Path(f"{key_path}.pub")
        if not public.exists():
            with atomic_path(public) as partial:
                write_public_keyfile(str(key_path), str(partial))
        identity = (str(key_path), _identity(key_stat), _identity(public.stat()))
        signer = _signers.get(identity)
        if signer is None:
            signer = _signers[identity] = CryptographySigner(str(key_path))
        return signer
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _unusable(key_path, exc) from None


class LazySigner:
    """The signer adb-shell is given, which loads (or makes) the user's key only when a phone asks
    to authenticate: looking where no phone answers, as `bench devices` may, must not leave a key
    behind. adb-shell calls `Sign` with each token the phone sends and `GetPublicKey` to offer the
    key at the phone's prompt; a key that cannot be used raises `AdbKeyError` out of `connect`."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        self._signer: CryptographySigner | None = None

    def _loaded(self) -> CryptographySigner:
        if self._signer is None:
            self._signer = _load_signer(self.key_path)
        return self._signer

    def Sign(self, data: bytes) -> bytes:
        return self._loaded().Sign(data)

    def GetPublicKey(self) -> bytes:
        return self._loaded().GetPublicKey()
