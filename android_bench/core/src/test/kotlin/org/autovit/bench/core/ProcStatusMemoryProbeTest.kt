package org.autovit.bench.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.io.File
import java.io.IOException
import java.nio.ByteBuffer

class ProcStatusMemoryProbeTest {
    @get:Rule
    val tmp = TemporaryFolder()

    private val onLinux = File("/proc/self/status").isFile

    private fun status(text: String) = tmp.newFile("status").apply { writeText(text) }

    @Test
    fun `kB lines of the status file are read as bytes`() {
        val probe = ProcStatusMemoryProbe(status = status("Name:\tjava\nVmHWM:\t    4096 kB\nVmRSS:\t    2048 kB\nThreads:\t12\n"))
        assertEquals(2_097_152L, probe.residentBytes())
        assertEquals(4_194_304L, probe.peakBytes())
    }

    @Test
    fun `a status file without VmHWM has no peak, and one without VmRSS fails`() {
        val probe = ProcStatusMemoryProbe(status = status("Name:\tjava\n"))
        assertNull(probe.peakBytes())
        assertThrows(IOException::class.java) { probe.residentBytes() }
    }

    @Test
    fun `a reset the system refuses is reported as not done`() {
        assertFalse(ProcStatusMemoryProbe(clearRefs = tmp.root.resolve("missing/clear_refs")).resetPeak())
    }

    @Test
    fun `the method names the counters and the reset that the golden result names`() {
        val probe = ProcStatusMemoryProbe()
        assertEquals("android: VmRSS and VmHWM of /proc/self/status", probe.method)
        assertEquals("/proc/self/clear_refs", probe.peakReset)
    }

    @Test
    fun `on Linux it reads this process's own resident and peak bytes`() {
        assumeTrue("no /proc/self/status here", onLinux)
        val probe = ProcStatusMemoryProbe()
        val resident = probe.residentBytes()
        val peak = probe.peakBytes()!!
        assertTrue("VmRSS $resident", resident > 0)
        assertTrue("VmHWM $peak below the VmRSS $resident read before it", peak >= resident)
    }

    @Test
    fun `on Linux native memory touched between the reads is counted in load and peak bytes`() {
        assumeTrue("no /proc/self/status here", onLinux)
        val meter = MemoryMeter.start(ProcStatusMemoryProbe())
        val buffer = ByteBuffer.allocateDirect(64 shl 20) // zeroed, so every page is touched
        meter.loaded()
        val memory = meter.ran()!!
        assertTrue("load_bytes ${memory.loadBytes}", memory.loadBytes >= 48L shl 20)
        assertTrue("peak_bytes ${memory.peakBytes}", memory.peakBytes >= memory.loadBytes)
        assertEquals(64 shl 20, buffer.capacity())
    }
}
