"""The Android runner, in the phone runners' template (`runners/phone.py`): `settings`, `phone_state`,
`connection` (and the listing of phones), `diagnosis` (`bench doctor`'s steps), `runner` (the
session) and `platform` (its descriptor); over our narrow interface to adb-shell (`adb`, with the
user's key in `keys`)."""
