"""The Android app builds with `./gradlew` alone: the Gradle wrapper is committed, pinned to a Gradle
that the Android Gradle plugin of `build.gradle.kts` accepts, and its launcher starts the
distribution it names.

No network reaches services.gradle.org here, so the launcher is run against a stand-in distribution
of the pinned version laid out as Gradle's are (`gradle-X/lib/gradle-launcher-X.jar` holding
`org.gradle.launcher.GradleMain`, the class a wrapper starts), served from a local file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ANDROID = Path(__file__).resolve().parents[1] / "android_bench"
PROPERTIES = ANDROID / "gradle" / "wrapper" / "gradle-wrapper.properties"
# The lowest Gradle each Android Gradle plugin line runs on (developer.android.com, "Android Gradle
# plugin release notes", compatibility table).
MIN_GRADLE_FOR_AGP = {(8, 5): (8, 7), (8, 6): (8, 7), (8, 7): (8, 9), (8, 8): (8, 10, 2)}


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def pinned_gradle() -> str:
    url = re.search(r"^distributionUrl=(.*)$", PROPERTIES.read_text(), re.MULTILINE)
    assert url, f"{PROPERTIES} names no distributionUrl"
    name = re.search(r"gradle-([\d.]+)-(?:bin|all)\.zip$", url[1])
    assert name and url[1].startswith(r"https\://services.gradle.org/distributions/"), url[1]
    return name[1]


def test_the_wrapper_is_committed_and_its_script_is_executable() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-s", "gradlew", "gradlew.bat", "gradle/wrapper"], cwd=ANDROID, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    modes = {line.split()[-1]: line.split()[0] for line in tracked}
    assert modes == {
        "gradlew": "100755", "gradlew.bat": "100644",
        "gradle/wrapper/gradle-wrapper.jar": "100644", "gradle/wrapper/gradle-wrapper.properties": "100644",
    }


def test_the_wrapper_pins_a_gradle_the_android_plugin_accepts() -> None:
    build = (ANDROID / "build.gradle.kts").read_text()
    agp = re.search(r'id\("com\.android\.application"\) version "([\d.]+)"', build)
    assert agp, "build.gradle.kts names no Android Gradle plugin version"
    assert version(pinned_gradle()) >= MIN_GRADLE_FOR_AGP[version(agp[1])[:2]]
    assert pinned_gradle() == "8.9"


@pytest.mark.slow
@pytest.mark.kotlin
@pytest.mark.skipif(shutil.which("javac") is None, reason="no JDK (javac) to build the stand-in distribution's launcher")
def test_gradlew_starts_the_distribution_it_pins(tmp_path: Path) -> None:
    pinned = pinned_gradle()
    source = tmp_path / "src" / "org" / "gradle" / "launcher" / "GradleMain.java"
    source.parent.mkdir(parents=True)
    source.write_text(
        "package org.gradle.launcher;\n"
        "public class GradleMain { public static void main(String[] args) { System.out.println(\"stand-in gradle \" + String.join(\" \", args)); } }\n"
    )
    subprocess.run(["javac", "-d", str(tmp_path / "classes"), str(source)], check=True, capture_output=True, timeout=120)
    distribution = tmp_path / f"gradle-{pinned}-bin.zip"
    with zipfile.ZipFile(distribution, "w") as dist:
        launcher = tmp_path / "launcher.jar"
        with zipfile.ZipFile(launcher, "w") as jar:
            jar.write(tmp_path / "classes" / "org" / "gradle" / "launcher" / "GradleMain.class", "org/gradle/launcher/GradleMain.class")
        for folder in (f"gradle-{pinned}/", f"gradle-{pinned}/lib/"):
            dist.writestr(folder, "")
        dist.write(launcher, f"gradle-{pinned}/lib/gradle-launcher-{pinned}.jar")
    project = tmp_path / "project"
    shutil.copytree(ANDROID / "gradle", project / "gradle")
    shutil.copy2(ANDROID / "gradlew", project / "gradlew")
    (project / "gradle" / "wrapper" / "gradle-wrapper.properties").write_text(
        re.sub(r"^distributionUrl=.*$", f"distributionUrl={distribution.as_uri()}", PROPERTIES.read_text(), flags=re.MULTILINE)
    )
    env = {**os.environ, "GRADLE_USER_HOME": str(tmp_path / "home")}
    ran = subprocess.run([str(project / "gradlew"), "--version"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines()[-1] == "stand-in gradle --version"
