package org.autovit.bench.core

/** Time that moves only when a fake model runs or someone sleeps. */
class FakeClock : Clock {
    var now = 0L

    override fun nanoTime(): Long = now

    override fun sleep(nanos: Long) {
        now += nanos
    }
}

/** A model that takes [latencyNs] of fake time per run and logs its name. */
class FakeModel(private val name: String, private val latencyNs: Long, private val clock: FakeClock, private val log: MutableList<String>) : Model {
    override fun run() {
        log.add(name)
        clock.now += latencyNs
    }
}

/** A model whose successive runs take [latenciesNs] of fake time in turn, starting over after the last, and log its name. */
class CyclingModel(private val name: String, private val latenciesNs: List<Long>, private val clock: FakeClock, private val log: MutableList<String>) : Model {
    private var runs = 0

    override fun run() {
        log.add(name)
        clock.now += latenciesNs[runs++ % latenciesNs.size]
    }
}

/**
 * A process's memory in fake bytes, and the probe that reads it: fake engines allocate and free
 * here, so the counters move the way the kernel's would. [resetWorks] false: [resetPeak] is refused
 * (the high-water mark then stays the lifetime one, [highWater] to start with); [hasPeak] false: no
 * peak counter at all. Every probe call and every [allocate]/[free] is logged to [log] in order.
 */
class FakeMemory(
    var resident: Long = 100L shl 20,
    var highWater: Long = resident,
    override val method: String = "android: VmRSS and VmHWM of /proc/self/status",
    override val peakReset: String? = "/proc/self/clear_refs",
    private val resetWorks: Boolean = true,
    private val hasPeak: Boolean = true,
    private val log: MutableList<String> = ArrayList()
) : MemoryProbe {
    /** Probe calls left before the probe throws, like an unreadable /proc file; null: never. */
    var callsBeforeFailure: Int? = null

    fun allocate(bytes: Long) {
        log.add("allocate $bytes")
        resident += bytes
        highWater = maxOf(highWater, resident)
    }

    fun free(bytes: Long) {
        log.add("free $bytes")
        resident -= bytes
    }

    override fun residentBytes(): Long = call("resident") { resident }

    override fun peakBytes(): Long? = call("peak") { if (hasPeak) highWater else null }

    override fun resetPeak(): Boolean = call("reset") {
        if (resetWorks) highWater = resident
        resetWorks
    }

    private fun <T> call(name: String, read: () -> T): T {
        callsBeforeFailure?.let {
            if (it == 0) throw java.io.IOException("cannot read /proc/self/status")
            callsBeforeFailure = it - 1
        }
        log.add(name)
        return read()
    }
}
