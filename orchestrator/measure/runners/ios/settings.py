"""Which app the iOS runner talks to and how long it waits for it: `IosSettings`.

A device entry's runtime may name the app's bundle id and the phone (`bundle_id`, `udid`); else they
come from the environment (`IosSettings.from_env`):

    BENCH_IOS_BUNDLE_ID  the bundle id the app was signed with (ios_bench/README.md, Sign)
    BENCH_IOS_UDID       which iPhone, when more than one is connected (`bench devices` lists them)
    BENCH_IOS_APP        an .ipa or .app to install when the phone lacks the app
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

BUNDLE_ID = "org.autovit.bench"


@dataclass(frozen=True)
class IosSettings:
    """bundle_id: the id the app was signed with (ios_bench/README.md, Sign).
    app_path: an .ipa or .app to install when the app is missing; without it a missing app is an error.
    udid: which phone, when more than one is connected.
    timeout_s: how long one run may take on the phone (compiling, loading, cool-down, warm-up, measuring).
    poll_s: how often the runner looks for the result (and asks whether the app still runs).
    pair_timeout_s: how long a session waits for the user to tap Trust.
    stream_log: copy the app's device log into runner.log while it runs; off by default, because
        streaming a log over USB while timing costs the phone CPU time and perturbs the latencies.
    hot_cooldown_s: how long to let a phone that got hot cool down before measuring the session again."""

    bundle_id: str = BUNDLE_ID
    app_path: Path | None = None
    udid: str | None = None
    timeout_s: float = 1800.0
    poll_s: float = 1.0
    pair_timeout_s: float = 30.0
    stream_log: bool = False
    hot_cooldown_s: float = 120.0

    @classmethod
    def from_env(cls, runtime: dict[str, Any] | None = None, **overrides: Any) -> IosSettings:
        """Bundle id and udid from a device entry's `runtime`, else from BENCH_IOS_BUNDLE_ID /
        BENCH_IOS_UDID; the app to install from BENCH_IOS_APP; then `overrides`."""
        runtime = runtime or {}
        app = os.environ.get("BENCH_IOS_APP")
        settings = cls(
            bundle_id=runtime.get("bundle_id") or os.environ.get("BENCH_IOS_BUNDLE_ID") or BUNDLE_ID,
            app_path=Path(app) if app else None,
            udid=runtime.get("udid") or os.environ.get("BENCH_IOS_UDID"),
        )
        return replace(settings, **overrides)
