package org.autovit.bench.core

import org.junit.Assert.assertEquals
import org.junit.Test

class StatsTest {
    @Test
    fun `golden summaries are what summarize computes from their samples`() {
        val models = Golden.document("result_ok.json")["models"] as List<*>
        for (model in models) {
            model as Map<*, *>
            val golden = model["summary"] as Map<*, *>
            @Suppress("UNCHECKED_CAST")
            val summary = Stats.summarize(model["samples_ms"] as List<Double>).toJson()
            assertEquals(golden.keys, summary.keys)
            for ((key, value) in summary) {
                assertEquals("${model["id"]} $key", (golden[key] as Number).toDouble(), (value as Number).toDouble(), 1e-9)
            }
        }
    }

    @Test
    fun `the median of an even count is the mean of the middle two`() {
        assertEquals(2.5, Stats.summarize(listOf(4.0, 1.0, 3.0, 2.0)).medianMs, 0.0)
    }

    @Test
    fun `the trimmed mean drops a tenth, rounded down, from each end`() {
        val samples = listOf(100.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, -100.0)
        assertEquals(4.5, Stats.summarize(samples).trimmedMeanMs, 0.0)
    }

    @Test
    fun `fewer than ten samples are not trimmed`() {
        assertEquals(12.0, Stats.summarize(listOf(100.0) + List(8) { 1.0 }).trimmedMeanMs, 0.0)
    }

    @Test
    fun `p90 rounds its index half to even, like Python's round`() {
        assertEquals(5.0, Stats.summarize(listOf(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)).p90Ms, 0.0)
    }

    @Test
    fun `the standard deviation is the population one`() {
        assertEquals(Math.sqrt(1.25), Stats.summarize(listOf(1.0, 2.0, 3.0, 4.0)).stdMs, 0.0)
    }

    @Test
    fun `the mean rounds an exact sum, like Python's fmean`() {
        assertEquals(0.1, Stats.summarize(List(10) { 0.1 }).meanMs, 0.0)
    }

    @Test
    fun `one sample is its own summary with no spread`() {
        assertEquals(Summary(7.5, 7.5, 7.5, 7.5, 0.0, 7.5, 7.5, 1), Stats.summarize(listOf(7.5)))
    }

    @Test(expected = IllegalArgumentException::class)
    fun `no samples cannot be summarized`() {
        Stats.summarize(emptyList())
    }
}
