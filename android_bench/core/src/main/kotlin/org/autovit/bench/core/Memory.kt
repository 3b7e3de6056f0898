package org.autovit.bench.core

/**
 * What one model adds to the memory of the process that runs it, above the process's level just
 * before its load: a model's `memory` object in `result.v1.json`.
 *
 * The contract's rules hold by construction (0 <= [loadBytes] <= [peakBytes] <= 64 GiB, a method of
 * 1 to 300 characters), so a result the core writes never holds a memory the runner refuses.
 */
data class ModelMemory(val loadBytes: Long, val peakBytes: Long, val method: String) {
    init {
        require(loadBytes in 0..MAX_BYTES) { "load_bytes must be a whole number of bytes in 0..$MAX_BYTES, not $loadBytes" }
        require(peakBytes in loadBytes..MAX_BYTES) { "peak_bytes must be in load_bytes ($loadBytes)..$MAX_BYTES, not $peakBytes: the peak includes the load" }
        val chars = method.codePointCount(0, method.length) // as the schema's maxLength counts them
        require(chars in 1..MAX_METHOD_CHARS) { "method must have 1 to $MAX_METHOD_CHARS characters, not $chars" }
    }

    fun toJson(): Map<String, Any?> = linkedMapOf("load_bytes" to loadBytes, "peak_bytes" to peakBytes, "method" to method)

    companion object {
        /** The schema's bound: 64 GiB, more than any phone has. */
        const val MAX_BYTES = 64L shl 30
        const val MAX_METHOD_CHARS = 300
    }
}

/**
 * The process's memory counters: [ProcStatusMemoryProbe] on the phone, fakes in the tests.
 *
 * An interface so that [Bench]'s arithmetic (which counter, which fallback, which words) is tested
 * on the JVM with scripted values; the counters themselves are the platform's.
 */
interface MemoryProbe {
    /** The counters in words, starting with the platform, e.g. "android: VmRSS and VmHWM of /proc/self/status". */
    val method: String

    /** What [resetPeak] writes to, in words (e.g. "/proc/self/clear_refs"); null when the probe cannot reset its peak at all. */
    val peakReset: String?

    /** The memory the process holds now, in bytes. */
    fun residentBytes(): Long

    /** The most the process has held since the last successful [resetPeak] (else in its lifetime), in bytes; null when there is no such counter. */
    fun peakBytes(): Long?

    /** Sets the peak back to the current level; false when the system refused. */
    fun resetPeak(): Boolean
}

/**
 * One model's memory, read around its load and first inference (outside the timed calls):
 * [start] just before the load, [loaded] just after it, [ran] after the first inference.
 *
 * The peak is exact when the probe's peak was reset before the load, and also when it was not but
 * the model raised the lifetime high-water mark (the peak over the model's load and first inference
 * is then the new mark); otherwise it is the level after the first inference, a lower bound, and
 * the method says which. Bytes are counted above the level before the load, so the models loaded
 * earlier (still held) are not counted again, and clamped at zero (a collection can free more than
 * a load takes).
 *
 * A probe that throws leaves the model's memory out (absent: not measured, as the schema allows)
 * rather than lose the session's latencies to a counter the phone would not give.
 */
class MemoryMeter private constructor(private val probe: MemoryProbe) {
    private var failed = false
    private var reset = false
    private var peakBefore: Long? = null
    private var before = 0L
    private var loadedAt = 0L

    /** After the load: the level it left. */
    fun loaded() {
        attempt { loadedAt = probe.residentBytes() }
    }

    /** After the first inference: the model's memory, or null when the probe failed at any step. */
    fun ran(): ModelMemory? = attempt {
        val after = probe.residentBytes()
        val peak = probe.peakBytes()
        val lifetimePeak = peakBefore
        val (peakSeen, how) = when {
            reset && peak != null -> peak to ", the peak reset through ${probe.peakReset} before each model's load"
            peak != null && lifetimePeak != null && peak > lifetimePeak ->
                peak to "; ${notReset()}, so it is the lifetime high-water mark, which this model's load and first inference raised"
            else -> after to "; ${notReset()}, so it is the level after the first inference (a lower bound)"
        }
        val loadBytes = maxOf(0L, loadedAt - before)
        val peakBytes = maxOf(0L, maxOf(peakSeen, loadedAt, after) - before)
        ModelMemory(loadBytes, peakBytes, probe.method + how)
    }

    private fun notReset() = probe.peakReset?.let { "$it did not reset the peak" } ?: "the peak cannot be reset"

    /** [read]'s value, or null (and every later step null too) once the probe has thrown. */
    private fun <T> attempt(read: () -> T): T? {
        if (failed) return null
        return try {
            read()
        } catch (e: Exception) {
            failed = true
            null
        }
    }

    companion object {
        /** Just before a load: resets the peak (or, failing that, notes the lifetime one) and reads the level. */
        fun start(probe: MemoryProbe): MemoryMeter = MemoryMeter(probe).apply {
            attempt {
                reset = probe.resetPeak()
                if (!reset) peakBefore = probe.peakBytes()
                before = probe.residentBytes()
            }
        }
    }
}
