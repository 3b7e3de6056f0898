package org.autovit.bench.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test

class ModelMemoryTest {
    private val method = "android: VmRSS and VmHWM of /proc/self/status, the peak reset through /proc/self/clear_refs before each model's load"

    @Test
    fun `memory is written under the schema's keys, as whole numbers`() {
        assertEquals(
            linkedMapOf("load_bytes" to 4_718_592L, "peak_bytes" to 11_239_424L, "method" to method),
            ModelMemory(4_718_592L, 11_239_424L, method).toJson()
        )
    }

    @Test
    fun `negative bytes are refused`() {
        assertThrows(IllegalArgumentException::class.java) { ModelMemory(-1, 0, method) }
        assertThrows(IllegalArgumentException::class.java) { ModelMemory(0, -1, method) }
    }

    @Test
    fun `a peak below the load is refused, since the peak includes the load`() {
        val e = assertThrows(IllegalArgumentException::class.java) { ModelMemory(2048, 1024, method) }
        assertEquals("peak_bytes must be in load_bytes (2048)..68719476736, not 1024: the peak includes the load", e.message)
    }

    @Test
    fun `more than the schema's 64 GiB is refused`() {
        assertThrows(IllegalArgumentException::class.java) { ModelMemory(0, (64L shl 30) + 1, method) }
        ModelMemory(64L shl 30, 64L shl 30, method)
    }

    @Test
    fun `an empty method or one over 300 characters is refused`() {
        assertThrows(IllegalArgumentException::class.java) { ModelMemory(0, 0, "") }
        assertThrows(IllegalArgumentException::class.java) { ModelMemory(0, 0, "x".repeat(301)) }
        ModelMemory(0, 0, "x".repeat(300))
    }
}
