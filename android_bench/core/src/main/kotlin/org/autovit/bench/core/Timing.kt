package org.autovit.bench.core

/** A loaded model bound to its input; [run] is one inference, the thing that gets timed. */
interface Model {
    fun run()
}

/** Monotonic time; tests pass a fake one so the loop's counts and order can be checked exactly. */
interface Clock {
    fun nanoTime(): Long

    fun sleep(nanos: Long)
}

object MonotonicClock : Clock {
    override fun nanoTime(): Long = System.nanoTime()

    override fun sleep(nanos: Long) = Thread.sleep(nanos / 1_000_000, (nanos % 1_000_000).toInt())
}

/** Warm up for at least [warmupRuns] runs and [warmupSeconds], then measure at least [runs] rounds and [minSeconds]. */
data class TimingPlan(val warmupRuns: Int, val warmupSeconds: Double, val runs: Int, val minSeconds: Double)

/**
 * Per model id, its steady-state latency samples in milliseconds, one per round; the same loop as
 * `orchestrator/runners/timing.py`. Each round runs every model once, in the map's order
 * (A B C A B C …), so drift on the phone (heat, clock changes) hits all models alike and a removal
 * delta can be taken round by round.
 */
fun interleavedLatencies(models: Map<String, Model>, plan: TimingPlan, clock: Clock): Map<String, List<Double>> {
    runUntil(models, plan.warmupRuns, plan.warmupSeconds, clock, record = false)
    return runUntil(models, plan.runs, plan.minSeconds, clock, record = true)
}

private fun runUntil(models: Map<String, Model>, runs: Int, seconds: Double, clock: Clock, record: Boolean): Map<String, List<Double>> {
    val samples = models.keys.associateWith { ArrayList<Double>() }
    val start = clock.nanoTime()
    var rounds = 0
    while (rounds < runs || (clock.nanoTime() - start) / 1e9 < seconds) {
        for ((id, model) in models) {
            val t0 = clock.nanoTime()
            model.run()
            val elapsed = clock.nanoTime() - t0
            if (record) samples.getValue(id).add(elapsed / 1e6)
        }
        rounds++
    }
    return samples
}
