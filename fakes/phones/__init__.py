"""Simulated phones: a phone's behaviour (what each network costs on it, and how its speed drifts,
steps, throttles, jitters and is interrupted while it is measured) stated in one file, behind the same
Android and iPhone protocols the real runners use (`fakes.adb_peer`, `fakes.ios_fake`), with a quiet
truth the benchmark judges LUTs against (`simulation.PhoneSimulation.quiet_ms`)."""
