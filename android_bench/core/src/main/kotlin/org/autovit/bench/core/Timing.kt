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

/**
 * Warm up for at least [warmupRuns] rounds and [warmupSeconds], then measure at least [runs] rounds
 * and [minSeconds]; in every round each model runs [burst] times back to back, the last run timed.
 */
data class TimingPlan(val warmupRuns: Int, val warmupSeconds: Double, val runs: Int, val minSeconds: Double, val burst: Int = 1) {
    init {
        require(burst >= 1) { "a burst is at least one run, not $burst" }
    }
}

/**
 * Per model id, its steady-state latency samples in milliseconds, one per round; the same loop as
 * `orchestrator/measure/timing.py`. Each round runs every model in turn, in the map's order
 * (A B C A B C …), so drift on the phone (heat, clock changes) hits all models alike and a removal
 * delta can be taken round by round.
 *
 * With a burst above 1 a model runs that many times in its turn (A A A B B B …) and only the last
 * run is timed: deployed, a model runs alone with its weights in the caches, while one run at a
 * time after the other models' runs starts with caches full of their weights, which at a fraction
 * of a millisecond per network is most of what gets measured.
 */
fun interleavedLatencies(models: Map<String, Model>, plan: TimingPlan, clock: Clock): Map<String, List<Double>> {
    runUntil(models, plan.warmupRuns, plan.warmupSeconds, plan.burst, clock, record = false)
    return runUntil(models, plan.runs, plan.minSeconds, plan.burst, clock, record = true)
}

private fun runUntil(models: Map<String, Model>, runs: Int, seconds: Double, burst: Int, clock: Clock, record: Boolean): Map<String, List<Double>> {
    val samples = models.keys.associateWith { ArrayList<Double>() }
    val start = clock.nanoTime()
    var rounds = 0
    while (rounds < runs || (clock.nanoTime() - start) / 1e9 < seconds) {
        for ((id, model) in models) {
            repeat(burst - 1) { model.run() }
            val t0 = clock.nanoTime()
            model.run()
            val elapsed = clock.nanoTime() - t0
            if (record) samples.getValue(id).add(elapsed / 1e6)
        }
        rounds++
    }
    return samples
}
