"""The Android runner (`runner`, over `diagnosis`, `connection`, `phone_state` and `settings`) and
our narrow interface over adb-shell (`adb`, with the user's key in `keys`)."""
