package org.autovit.bench.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test

class TimingTest {
    private val clock = FakeClock()
    private val log = ArrayList<String>()

    private fun models(vararg latenciesMs: Pair<String, Long>): Map<String, Model> =
        latenciesMs.associate { (name, ms) -> name to FakeModel(name, ms * 1_000_000, clock, log) as Model }

    @Test
    fun `every round runs each model once, in order, warm-up included`() {
        interleavedLatencies(models("A" to 1, "B" to 1, "C" to 1), TimingPlan(2, 0.0, 3, 0.0), clock)
        assertEquals("ABC".repeat(5), log.joinToString(""))
    }

    @Test
    fun `only the measured rounds are recorded, one sample per round`() {
        val samples = interleavedLatencies(models("A" to 1, "B" to 1), TimingPlan(10, 0.0, 3, 0.0), clock)
        assertEquals(mapOf("A" to 3, "B" to 3), samples.mapValues { it.value.size })
    }

    @Test
    fun `each sample is its run's time in milliseconds`() {
        val samples = interleavedLatencies(models("A" to 2, "B" to 3), TimingPlan(1, 0.0, 2, 0.0), clock)
        assertEquals(mapOf("A" to listOf(2.0, 2.0), "B" to listOf(3.0, 3.0)), samples)
    }

    @Test
    fun `measuring goes on past the run count until the minimum time has passed`() {
        val samples = interleavedLatencies(models("A" to 2, "B" to 3), TimingPlan(0, 0.0, 1, 0.012), clock)
        assertEquals(3, samples.getValue("A").size)
    }

    @Test
    fun `warming up goes on past the run count until its minimum time has passed`() {
        interleavedLatencies(models("A" to 5), TimingPlan(1, 0.02, 1, 0.0), clock)
        assertEquals(5, log.size)
    }

    @Test
    fun `the run count is kept even when the minimum time is already over`() {
        val samples = interleavedLatencies(models("A" to 5), TimingPlan(0, 0.0, 4, 0.001), clock)
        assertEquals(4, samples.getValue("A").size)
    }

    @Test
    fun `with a burst each model runs that many times back to back in every round, warm-up included`() {
        interleavedLatencies(models("A" to 1, "B" to 1), TimingPlan(1, 0.0, 2, 0.0, burst = 3), clock)
        assertEquals("AAABBB".repeat(3), log.joinToString(""))
    }

    @Test
    fun `with a burst each round records one sample per model, the time of its burst's last run`() {
        val models = mapOf(
            "A" to CyclingModel("A", listOf(5_000_000, 7_000_000, 2_000_000), clock, log) as Model,
            "B" to CyclingModel("B", listOf(1_000_000, 1_000_000, 4_000_000), clock, log)
        )
        val samples = interleavedLatencies(models, TimingPlan(1, 0.0, 2, 0.0, burst = 3), clock)
        assertEquals(mapOf("A" to listOf(2.0, 2.0), "B" to listOf(4.0, 4.0)), samples)
    }

    @Test
    fun `the untimed runs of a burst count toward a phase's minimum time`() {
        interleavedLatencies(models("A" to 5), TimingPlan(1, 0.02, 1, 0.0, burst = 2), clock)
        assertEquals(6, log.size)
    }

    @Test
    fun `a burst of no runs is refused`() {
        assertThrows(IllegalArgumentException::class.java) { TimingPlan(1, 0.0, 1, 0.0, burst = 0) }
    }
}
