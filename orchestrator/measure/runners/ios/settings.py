"""Which app the iOS runner talks to and how long it waits for it: `IosSettings`.

A device entry's runtime may name the app's bundle id and the phone (`bundle_id`, `udid`); else they
come from the environment (`IosSettings.from_env`):

    BENCH_IOS_BUNDLE_ID    the bundle id the app was signed with (ios_bench/README.md, Sign)
    BENCH_IOS_UDID         which iPhone, when more than one is connected (`bench devices` lists them)
    BENCH_IOS_APP          an .ipa or .app to install when the phone lacks the app
    BENCH_IOS_COOLDOWN_S   seconds between the end of one session on the phone and the start of the
                           next (default 60), for phones that cool faster or slower than that
    BENCH_IOS_HEAT_WAIT_S  how long a session waits for a hot phone to cool before it fails (default 1800)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra.files import env_seconds

BUNDLE_ID = "org.autovit.bench"
IOS_VERSION_STEP = "iOS 17 or later"  # the doctor's step that reads the iOS version, which the int8 step judges by
# CURRENT_PROJECT_VERSION of ios_bench/project.yml (the app's CFBundleVersion): the first build whose
# resident mode the runner drives. Raise both together when the app changes in a way this runner
# relies on, so that a phone with an older build is told to get this checkout's.
# tests/test_ios_project.py reads project.yml as XcodeGen does and holds the two equal.
APP_BUILD = 2


@dataclass(frozen=True)
class IosSettings:
    """bundle_id: the id the app was signed with (ios_bench/README.md, Sign).
    app_path: an .ipa or .app to install when the app is missing; without it a missing app is an error.
    udid: which phone, when more than one is connected.
    timeout_s: how long one run may take on the phone (compiling, loading, cool-down, warm-up, measuring).
    poll_s: how often the runner looks for the result and reads the app's heartbeat.
    pair_timeout_s: how long a session waits for the user to tap Trust.
    stream_log: copy the app's device log into runner.log while it runs; off by default, because
        streaming a log over USB while timing costs the phone CPU time and perturbs the latencies.
    hot_cooldown_s: how long to let a phone that got hot cool down before measuring the session again.

    The app stays in front for a whole job (its resident mode, ios_bench/README.md), so:
    cooldown_s: the pause between the end of one session on the phone and the start of the next,
        during which the app keeps the phone awake.
    heat_wait_s, heat_poll_s: a session starts only once the phone's thermal state (the app's
        heartbeat) is below serious, where iOS throttles the chip; it reads it every `heat_poll_s`
        and fails after `heat_wait_s`.
    start_timeout_s: how long the app may take from its launch to its first heartbeat.
    stale_s: a heartbeat that has not changed for this long means the app is gone (killed, crashed,
        or suspended); it beats every 2 s.
    relaunches: how many times one session launches a gone app again (it then serves the session
        from the start); a run that kills the app every time fails instead of looping.
    stop_timeout_s: how long the end of a job waits for the app to leave its resident mode (it
        finishes the run in progress first) before ending the app, so that Auto-Lock comes back."""

    bundle_id: str = BUNDLE_ID
    app_path: Path | None = None
    udid: str | None = None
    timeout_s: float = 1800.0
    poll_s: float = 1.0
    pair_timeout_s: float = 30.0
    stream_log: bool = False
    hot_cooldown_s: float = 120.0
    cooldown_s: float = 60.0
    heat_wait_s: float = 1800.0
    heat_poll_s: float = 10.0
    start_timeout_s: float = 30.0
    stale_s: float = 10.0
    relaunches: int = 1
    stop_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, runtime: dict[str, Any] | None = None, **overrides: Any) -> IosSettings:
        """Bundle id and udid from a device entry's `runtime`, else from BENCH_IOS_BUNDLE_ID /
        BENCH_IOS_UDID; the app to install from BENCH_IOS_APP; the cool-down and the heat wait from
        BENCH_IOS_COOLDOWN_S / BENCH_IOS_HEAT_WAIT_S; then `overrides`."""
        runtime = runtime or {}
        app = os.environ.get("BENCH_IOS_APP")
        settings = cls(
            bundle_id=runtime.get("bundle_id") or os.environ.get("BENCH_IOS_BUNDLE_ID") or BUNDLE_ID,
            app_path=Path(app) if app else None,
            udid=runtime.get("udid") or os.environ.get("BENCH_IOS_UDID"),
        )
        for field, name in (("cooldown_s", "BENCH_IOS_COOLDOWN_S"), ("heat_wait_s", "BENCH_IOS_HEAT_WAIT_S")):
            if text := os.environ.get(name):
                settings = replace(settings, **{field: env_seconds(name, text, getattr(cls, field))})
        return replace(settings, **overrides)

