"""Names of the doctor's steps that more than one module judges by: here, apart from the platform
(imported by every command) and the runner (imported when a phone is used), so neither imports the
other for a name, and the platform stays light (android/settings.py loads adb-shell and cryptography)."""

APP_STEP = "benchmark app installed and current"  # the doctor's step that checks the app, which the int8 step judges by
