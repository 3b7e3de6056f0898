"""Runners execute a run directory (request.json + models) on one device and return its result:
`host` (a child process on this CPU), `android` (the app in android_bench/ over ADB) and `ios`
(the app in ios_bench/ over pymobiledevice3). `base` holds what they share, `platform` the
descriptor each platform defines beside its runner, and `phone` the template both phone runners
follow."""
