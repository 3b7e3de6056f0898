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
