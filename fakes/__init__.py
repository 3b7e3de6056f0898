"""The closest real things to phones this machine can run, for the tests and the benchmarks alike:
an ADB protocol peer on loopback that the real adb clients connect to (`adb_peer`), and a fake of
the iPhone's services at pymobiledevice3's boundary (`ios_fake`). Never used by the product: a
missing phone is said, never faked."""
