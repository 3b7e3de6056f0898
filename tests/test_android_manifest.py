"""The Android app's manifest and build: what other apps on the phone may do with it, which phones it runs on,
and how its activity behaves on a locked phone (syntax-level: no Android SDK here)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator.measure.runners.android.settings import APP_ABIS

MANIFEST = Path(__file__).resolve().parents[1] / "android_bench" / "app" / "src" / "main" / "AndroidManifest.xml"
ANDROID = "{http://schemas.android.com/apk/res/android}"


def test_only_the_shell_user_can_start_the_benchmark_activity() -> None:
    activities = ET.parse(MANIFEST).getroot().iter("activity")
    exported = {a.get(f"{ANDROID}name"): a.get(f"{ANDROID}permission") for a in activities if a.get(f"{ANDROID}exported") == "true"}
    assert exported == {".BenchmarkActivity": "android.permission.DUMP"}


def test_apk_ships_exactly_the_abis_the_runner_accepts_a_phone_for() -> None:
    build = (MANIFEST.parents[2] / "build.gradle.kts").read_text()
    filters = re.search(r"abiFilters \+= listOf\(([^)]*)\)", build)
    assert filters is not None
    assert tuple(re.findall(r'"([^"]+)"', filters.group(1))) == APP_ABIS == ("arm64-v8a", "x86_64")


def test_benchmark_activity_shows_over_the_lock_screen_and_reports_being_stopped() -> None:
    activity = (MANIFEST.parent / "java" / "org" / "autovit" / "bench" / "BenchmarkActivity.kt").read_text()
    assert "setShowWhenLocked(true)" in activity and "setTurnScreenOn(true)" in activity
    assert "override fun onStop()" in activity and "bench.interrupted(requestPath, STOPPED)" in activity


def test_the_app_links_the_executorch_aar_of_the_exporters_version_by_default() -> None:
    build = (MANIFEST.parents[2] / "build.gradle.kts").read_text()
    default = re.search(r'providers\.gradleProperty\("executorch\.version"\)\.getOrElse\("([^"]+)"\)', build)
    pyproject = (MANIFEST.parents[4] / "pyproject.toml").read_text()
    assert default is not None and f'"executorch=={default.group(1)}"' in pyproject
    assert 'implementation("org.pytorch:executorch-android:$executorchVersion")' in build
    assert 'buildConfigField("String", "EXECUTORCH_VERSION", "\\"$executorchVersion\\"")' in build
