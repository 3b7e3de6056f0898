"""What each iOS failure means to the user: one sentence, the problem and then its fix.

Shared by the session, its doctor walk and the listing of phones, and kept apart from them so the
wording lives in one place; the mapping is tested against pymobiledevice3's own exception classes.
"""

from __future__ import annotations

import asyncio
import shlex
import sys

from pymobiledevice3.dtx.exceptions import DTXNsError
from pymobiledevice3.exceptions import (
    ConnectionFailedToUsbmuxdError,
    ConnectionTerminatedError,
    DeveloperModeIsNotEnabledError,
    DeviceNotFoundError,
    FatalPairingError,
    NoDeviceConnectedError,
    NotPairedError,
    NotTrustedError,
    PairingError,
    PasscodeRequiredError,
    PasswordRequiredError,
    PyMobileDevice3Exception,
    UserDeniedPairingError,
)

from orchestrator.measure.runners.base import RunnerError


def pmd3_command(*args: str, sudo: bool = False) -> str:
    """A pymobiledevice3 command line for the user to paste, run by the interpreter the toolkit runs
    under: pymobiledevice3 lives in the toolkit's environment, so the system `python3` (and root's,
    under sudo) lacks it; the path is quoted for a shell, in case it holds a space."""
    return " ".join([*(["sudo"] if sudo else []), shlex.quote(sys.executable), "-m", "pymobiledevice3", *args])


TUNNELD_COMMAND = pmd3_command("remote", "tunneld", sudo=True)
MOUNT_COMMAND = pmd3_command("mounter", "auto-mount")
SIGN_HINT = "sign it with your team in Xcode, see ios_bench/README.md (Sign)"

NO_DEVICE = "no iPhone is connected over USB: connect the iPhone with a cable and unlock it, then run again"
NO_USBMUXD = (
    "usbmuxd, the system service that talks to iPhones over USB, is not running: on Linux install and start it "
    "(sudo apt install usbmuxd), on Windows install Apple Devices or iTunes, then run again"
)
NOT_TRUSTED = "the iPhone does not trust this computer: unlock it, tap Trust on the phone (and enter its passcode), then run again"
DENIED = "the iPhone was told not to trust this computer: unplug and replug the cable, tap Trust on the phone, then run again"
LOCKED = "the iPhone is locked: unlock it and keep it unlocked while it runs, then run again"


def locked_after(why: str) -> str:
    """The resident app left the front mid-job (switched away from, ended, crashed) and the phone
    then locked with its passcode, so the runner cannot bring the app back by itself."""
    return (
        f"the benchmark app stopped during the job ({why}) and the iPhone locked meanwhile, so it cannot be launched again: "
        "unlock the iPhone and leave the app in front until the job ends, then run again"
    )
DEVELOPER_MODE_OFF = (
    "Developer Mode is off on the iPhone: turn it on in Settings > Privacy & Security > Developer Mode "
    "(the phone restarts), then run again"
)
DISCONNECTED = "the connection to the iPhone broke off: check the cable, keep the phone unlocked, then run again"


CRASH_REPORTS = "its crash report under Settings > Privacy & Security > Analytics & Improvements > Analytics Data (IOSBench-*)"
REBUILD = "rebuild and reinstall the app from this checkout (ios_bench/README.md), then run again"


def app_not_installed(bundle_id: str) -> str:
    return (
        f"the benchmark app {bundle_id} is not installed on the iPhone: build, sign and install it as ios_bench/README.md "
        "describes (or give the runner its .ipa/.app to install), with the bundle id the runner is given"
    )


def app_too_old(bundle_id: str, build: int, wanted: int) -> str:
    """The installed app predates the resident mode the runner drives (see settings.APP_BUILD)."""
    return (
        f"the benchmark app {bundle_id} on the iPhone is build {build}, older than the build {wanted} this checkout needs "
        f"(its resident mode keeps the phone awake between sessions): {REBUILD}"
    )


# What talking to a phone can raise besides a RunnerError: pymobiledevice3's own errors, DTX errors,
# and the socket errors of a cable pulled mid-call.
DEVICE_ERRORS = (PyMobileDevice3Exception, DTXNsError, ConnectionError, TimeoutError, asyncio.IncompleteReadError)


def known_failure(exc: BaseException) -> str | None:
    """The sentence for failures that can happen at any step (subclasses before their bases)."""
    if isinstance(exc, ConnectionFailedToUsbmuxdError):
        return NO_USBMUXD
    if isinstance(exc, (NoDeviceConnectedError, DeviceNotFoundError)):
        return NO_DEVICE
    if isinstance(exc, UserDeniedPairingError):
        return DENIED
    if isinstance(exc, (PasswordRequiredError, PasscodeRequiredError)):
        return LOCKED
    if isinstance(exc, (PairingError, NotPairedError, NotTrustedError, FatalPairingError)):
        return NOT_TRUSTED
    if isinstance(exc, DeveloperModeIsNotEnabledError):
        return DEVELOPER_MODE_OFF
    if isinstance(exc, (ConnectionTerminatedError, ConnectionError, asyncio.IncompleteReadError)):
        return DISCONNECTED
    return None


def reason(exc: BaseException) -> str:
    """The exception's class and first line: pymobiledevice3 appends a "please report it" paragraph to
    errors it has no class for, and a runner error stays one sentence."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0].rstrip('.')}" if lines else type(exc).__name__


def failure(exc: BaseException, otherwise: str) -> RunnerError:
    return RunnerError(known_failure(exc) or otherwise)
