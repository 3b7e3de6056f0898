"""The Android app's manifest: what other apps on the phone may do with it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[1] / "android_bench" / "app" / "src" / "main" / "AndroidManifest.xml"
ANDROID = "{http://schemas.android.com/apk/res/android}"


def test_only_the_shell_user_can_start_the_benchmark_activity() -> None:
    activities = ET.parse(MANIFEST).getroot().iter("activity")
    exported = {a.get(f"{ANDROID}name"): a.get(f"{ANDROID}permission") for a in activities if a.get(f"{ANDROID}exported") == "true"}
    assert exported == {".BenchmarkActivity": "android.permission.DUMP"}
