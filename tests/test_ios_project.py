"""The iOS app's Xcode project, read from `ios_bench/project.yml` the way XcodeGen reads it.

No XcodeGen runs here (it needs macOS), so this file does what XcodeGen's `InfoPlistGenerator` does
for a target with an `info:` block (XcodeGen, Sources/XcodeGenKit/InfoPlistGenerator.swift): start
from its default dictionary, in which `CFBundleVersion` is the literal "1" and
`CFBundleShortVersionString` the literal "1.0", lay the target's `info.properties` over it, and write
that file. A literal in the file wins over the build settings, so an app whose properties do not name
`$(CURRENT_PROJECT_VERSION)` reports build 1 however its settings are raised, and the runner, which
needs `APP_BUILD`, refuses every such iPhone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from orchestrator.measure.runners.ios.settings import APP_BUILD

PROJECT = Path(__file__).resolve().parents[1] / "ios_bench" / "project.yml"
TARGET = "IOSBench"
# XcodeGen's generateDefaultInfoPlist (and generateProperties' package type for an application).
XCODEGEN_DEFAULTS = {
    "CFBundleIdentifier": "$(PRODUCT_BUNDLE_IDENTIFIER)",
    "CFBundleInfoDictionaryVersion": "6.0",
    "CFBundleName": "$(PRODUCT_NAME)",
    "CFBundleDevelopmentRegion": "$(DEVELOPMENT_LANGUAGE)",
    "CFBundleShortVersionString": "1.0",
    "CFBundleVersion": "1",
    "CFBundleExecutable": "$(EXECUTABLE_NAME)",
    "CFBundlePackageType": "APPL",
}


def generated_info_plist(spec: dict[str, Any], target: str = TARGET) -> dict[str, Any]:
    """The Info.plist XcodeGen writes for `target`: its defaults, then the spec's properties over them."""
    return {**XCODEGEN_DEFAULTS, **spec["targets"][target]["info"].get("properties", {})}


def build_settings(spec: dict[str, Any], target: str = TARGET) -> dict[str, str]:
    """The target's base build settings: the project's, then the target's own over them."""
    project = spec.get("settings", {}).get("base", {})
    own = spec["targets"][target].get("settings", {}).get("base", {})
    return {key: str(value) for key, value in {**project, **own}.items()}


def expand(value: str, settings: dict[str, str]) -> str:
    """`value` with each `$(NAME)` or `${NAME}` replaced by that build setting, as Xcode does when
    it processes the Info.plist."""
    return re.sub(r"\$[({](\w+)[)}]", lambda m: settings[m[1]], value)


def spec() -> dict[str, Any]:
    return yaml.safe_load(PROJECT.read_text())


def test_the_installed_apps_build_number_is_the_projects_and_the_one_the_runner_needs() -> None:
    project = spec()
    plist, settings = generated_info_plist(project), build_settings(project)

    assert plist["CFBundleVersion"] == "$(CURRENT_PROJECT_VERSION)"
    assert expand(plist["CFBundleVersion"], settings) == settings["CURRENT_PROJECT_VERSION"] == str(APP_BUILD)


def test_the_installed_apps_version_is_the_projects_marketing_version() -> None:
    project = spec()
    plist, settings = generated_info_plist(project), build_settings(project)

    assert plist["CFBundleShortVersionString"] == "$(MARKETING_VERSION)"
    assert expand(plist["CFBundleShortVersionString"], settings) == settings["MARKETING_VERSION"]


def test_properties_that_leave_the_build_number_out_make_xcodegens_build_one() -> None:
    project = spec()
    del project["targets"][TARGET]["info"]["properties"]["CFBundleVersion"]

    assert expand(generated_info_plist(project)["CFBundleVersion"], build_settings(project)) == "1"


IPAD_ORIENTATIONS = {
    "UIInterfaceOrientationPortrait",
    "UIInterfaceOrientationPortraitUpsideDown",
    "UIInterfaceOrientationLandscapeLeft",
    "UIInterfaceOrientationLandscapeRight",
}


def test_an_app_built_for_ipad_too_supports_every_orientation_there_as_multitasking_needs() -> None:
    project = spec()
    plist, families = generated_info_plist(project), build_settings(project)["TARGETED_DEVICE_FAMILY"].split(",")
    if "2" in families and not plist.get("UIRequiresFullScreen"):
        ipad = plist.get("UISupportedInterfaceOrientations~ipad", plist["UISupportedInterfaceOrientations"])
        assert set(ipad) == IPAD_ORIENTATIONS
    assert families in (["1"], ["1", "2"])


def test_every_pymobiledevice3_class_the_ios_readme_names_exists_in_the_release_the_toolkit_pins() -> None:
    """The README's steps are for a reader writing their own runner; a class renamed since would
    send them to an AttributeError (pymobiledevice3 11.x renamed its DVT provider)."""
    import pkgutil

    import pymobiledevice3

    readme = (PROJECT.parent / "README.md").read_text()
    named = set(re.findall(r"\b([A-Z][A-Za-z]+(?:Service|Provider|Control))\b", readme))
    defined: set[str] = set()
    for module in pkgutil.walk_packages(pymobiledevice3.__path__, "pymobiledevice3."):
        if module.name.startswith("pymobiledevice3.services."):
            source = Path(module.module_finder.path, module.name.rsplit(".", 1)[1] + ".py")
            if source.is_file():
                defined |= set(re.findall(r"^class (\w+)", source.read_text(), re.MULTILINE))
    assert named >= {"DvtProvider", "ProcessControl", "HouseArrestService"} and named <= defined
