package org.autovit.bench.core

import java.math.BigDecimal
import java.math.MathContext

/** Summary statistics of one model's latency samples, in milliseconds. */
data class Summary(
    val medianMs: Double,
    val meanMs: Double,
    val trimmedMeanMs: Double,
    val p90Ms: Double,
    val stdMs: Double,
    val minMs: Double,
    val maxMs: Double,
    val runs: Int
) {
    fun toJson(): Map<String, Any?> = linkedMapOf(
        "median_ms" to medianMs,
        "mean_ms" to meanMs,
        "trimmed_mean_ms" to trimmedMeanMs,
        "p90_ms" to p90Ms,
        "std_ms" to stdMs,
        "min_ms" to minMs,
        "max_ms" to maxMs,
        "runs" to runs.toLong()
    )
}

/**
 * What `orchestrator.contract.summarize` computes, to the last bit: the phone's summaries and the
 * host's must be interchangeable in a LUT. Python's `fmean` rounds an exact sum (`math.fsum`) and
 * `pstdev` takes a correctly rounded square root of an exact variance, so this sums exactly in
 * [BigDecimal] instead of accumulating doubles.
 */
object Stats {
    private val PRECISION = MathContext(60)

    fun summarize(samplesMs: List<Double>): Summary {
        require(samplesMs.isNotEmpty()) { "no samples to summarize" }
        val ordered = samplesMs.sorted()
        val n = ordered.size
        val cut = (n * 0.1).toInt()
        val trimmed = ordered.subList(cut, n - cut).ifEmpty { ordered }
        return Summary(
            medianMs = median(ordered),
            meanMs = mean(ordered),
            trimmedMeanMs = mean(trimmed),
            p90Ms = ordered[minOf(n - 1, Math.rint(0.9 * (n - 1)).toInt())],
            stdMs = populationStd(ordered),
            minMs = ordered.first(),
            maxMs = ordered.last(),
            runs = n
        )
    }

    private fun median(ordered: List<Double>): Double {
        val n = ordered.size
        return if (n % 2 == 1) ordered[n / 2] else (ordered[n / 2 - 1] + ordered[n / 2]) / 2
    }

    private fun mean(values: List<Double>): Double = exactSum(values).toDouble() / values.size

    /**
     * sqrt((n·Σx² − (Σx)²) / n²) from exact sums. The root is one Newton step from the double
     * estimate, carried out in 60 digits (about 1e-32 relative error before the final rounding);
     * `BigDecimal.sqrt` would do it too but needs Android API 33.
     */
    private fun populationStd(values: List<Double>): Double {
        val n = BigDecimal(values.size)
        val sumOfSquares = values.fold(BigDecimal.ZERO) { acc, x -> acc.add(BigDecimal(x).pow(2)) }
        val sum = exactSum(values)
        val scaledVariance = n.multiply(sumOfSquares).subtract(sum.pow(2))
        if (scaledVariance.signum() == 0) return 0.0
        val variance = scaledVariance.divide(n.pow(2), PRECISION)
        val guess = BigDecimal(Math.sqrt(variance.toDouble()))
        val refined = guess.add(variance.divide(guess, PRECISION)).divide(BigDecimal(2), PRECISION)
        return refined.toDouble()
    }

    private fun exactSum(values: List<Double>): BigDecimal = values.fold(BigDecimal.ZERO) { acc, x -> acc.add(BigDecimal(x)) }
}
