"""The Android runner (`runner`) and our narrow interface over adb-shell (`adb`)."""
