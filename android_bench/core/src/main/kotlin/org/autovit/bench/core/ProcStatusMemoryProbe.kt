package org.autovit.bench.core

import java.io.File
import java.io.FileOutputStream
import java.io.IOException

/**
 * The Linux kernel's counters of this process, which Android's kernel has too: `VmRSS` (resident
 * now) and `VmHWM` (its high-water mark) of `/proc/self/status`, both in kB; writing "5" to
 * `/proc/self/clear_refs` (Linux 4.0+) sets the high-water mark back to the resident size.
 *
 * Plain file reads, so the same class runs on the phone and in the JVM tests on Linux. Resident
 * size rather than the Java heap: ExecuTorch's weights and buffers are native memory. The files are
 * parameters only so that the tests can point them elsewhere.
 */
class ProcStatusMemoryProbe(
    platform: String = "android",
    private val status: File = File("/proc/self/status"),
    private val clearRefs: File = File("/proc/self/clear_refs")
) : MemoryProbe {
    override val method = "$platform: VmRSS and VmHWM of ${status.path}"
    override val peakReset: String = clearRefs.path

    override fun residentBytes(): Long = field("VmRSS") ?: throw IOException("${status.path} has no VmRSS line")

    override fun peakBytes(): Long? = field("VmHWM")

    /** False where the kernel refuses the write: too old for "5", or a security policy that denies it. */
    override fun resetPeak(): Boolean = try {
        FileOutputStream(clearRefs).use { it.write("5".toByteArray()) }
        true
    } catch (e: IOException) {
        false
    } catch (e: SecurityException) {
        false
    }

    /** The value of a `Name:   1234 kB` line, in bytes; null when there is no such line. */
    private fun field(name: String): Long? {
        val line = status.readLines().firstOrNull { it.startsWith("$name:") } ?: return null
        val parts = line.substringAfter(':').trim().split(Regex("\\s+"))
        if (parts.size != 2 || parts[1] != "kB") throw IOException("unexpected ${status.path} line '$line'")
        val kib = parts[0].toLongOrNull() ?: throw IOException("unexpected ${status.path} line '$line'")
        return kib * 1024
    }
}
