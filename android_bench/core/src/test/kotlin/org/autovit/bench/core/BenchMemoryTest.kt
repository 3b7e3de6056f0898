package org.autovit.bench.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.io.File

class BenchMemoryTest {
    @get:Rule
    val tmp = TemporaryFolder()

    private val clock = FakeClock()
    private val log = ArrayList<String>()
    private val device = DeviceFacts("android", "Pixel 7", "Android 14", 8, null)

    /** What each golden model holds once loaded, and the scratch its first inference takes and frees: `result_memory.json`'s numbers. */
    private val loads = mapOf("net-a.pte" to 4_718_592L, "net-b.pte" to 2_965_504L)
    private val scratch = mapOf("net-a.pte" to 6_520_832L, "net-b.pte" to 5_677_056L)

    /** Loads allocate their model's bytes in [memory]; a first inference allocates its scratch and frees it again. */
    private inner class AllocatingEngine(private val memory: FakeMemory, private val freedAtLoad: Long = 0) : Engine {
        override val name = "executorch"
        override val version = "1.5.1"

        override fun threadsFor(requested: Int) = if (requested > 0) requested else 4

        override fun load(file: File, threads: Int): Program {
            log.add("load ${file.name}")
            memory.free(freedAtLoad)
            memory.allocate(loads.getValue(file.name))
            clock.now += 7_000_000
            return object : Program {
                override fun bind(inputShape: List<Long>, input: FloatArray): Model {
                    var first = true
                    return object : Model {
                        override fun run() {
                            if (first) {
                                log.add("first run ${file.name}")
                                memory.allocate(scratch.getValue(file.name))
                                memory.free(scratch.getValue(file.name))
                            }
                            first = false
                            clock.now += 1_000_000
                        }
                    }
                }

                override fun close() = Unit
            }
        }
    }

    private fun request(): File {
        val doc = Golden.document("request_pte.json").toMutableMap()
        doc["warmup"] = mapOf("runs" to 1L, "seconds" to 0.0)
        doc["measure"] = mapOf("runs" to 2L, "seconds" to 0.0)
        val file = tmp.newFolder().resolve("request.json")
        file.writeText(Json.write(doc))
        return file
    }

    private fun bench(memory: FakeMemory?, freedAtLoad: Long = 0) =
        Bench(AllocatingEngine(memory ?: FakeMemory(), freedAtLoad), device, clock, memory) { 1_700_000_000_000L }

    @Test
    fun `each model's load and peak are the bytes it adds above the level before its load`() {
        val result = bench(FakeMemory(log = log)).run(request().path)
        assertEquals("ok", result.status)
        assertEquals(listOf(4_718_592L to 11_239_424L, 2_965_504L to 8_642_560L), result.models.map { it.memory!!.loadBytes to it.memory!!.peakBytes })
    }

    @Test
    fun `a session with memory writes each model's memory as the golden result_memory json has it`() {
        val file = ResultOutput.dir.resolve("result_memory.json")
        bench(FakeMemory(log = log)).runAndWrite(request().path, file)
        val golden = (Golden.document("result_memory.json")["models"] as List<*>).map { it as Map<*, *> }
        val written = (Json.parse(file.readText()) as Map<*, *>)["models"] as List<*>
        for ((ours, theirs) in written.map { it as Map<*, *> }.zip(golden)) {
            assertEquals(theirs.keys.toList(), ours.keys.toList())
            assertEquals(theirs["memory"], ours["memory"])
        }
    }

    @Test
    fun `without a probe the result has no memory`() {
        val result = bench(null).run(request().path)
        assertEquals("ok", result.status)
        assertEquals(listOf(null, null), result.models.map { it.memory })
        result.toJson()["models"].let { models -> (models as List<*>).forEach { assertFalse((it as Map<*, *>).containsKey("memory")) } }
    }

    @Test
    fun `memory is read around the load and the first inference, the peak reset before the level is read`() {
        bench(FakeMemory(log = log)).run(request().path)
        val netA = log.subList(0, log.indexOf("peak") + 1)
        assertEquals(
            listOf("reset", "resident", "load net-a.pte", "allocate 4718592", "resident", "first run net-a.pte", "allocate 6520832", "free 6520832", "resident", "peak"),
            netA.filter { !it.startsWith("free 0") }
        )
    }

    @Test
    fun `a peak that cannot be reset is the high-water mark when the model raised it`() {
        val memory = FakeMemory(resident = 100L shl 20, highWater = 101L shl 20, resetWorks = false)
        val result = bench(memory).run(request().path)
        assertEquals(11_239_424L, result.models[0].memory!!.peakBytes)
        assertEquals(
            "android: VmRSS and VmHWM of /proc/self/status; /proc/self/clear_refs did not reset the peak, so it is the lifetime " +
                "high-water mark, which this model's load and first inference raised",
            result.models[0].memory!!.method
        )
    }

    @Test
    fun `a peak that cannot be reset and was not raised gives the level after the first inference, a lower bound`() {
        val memory = FakeMemory(resident = 100L shl 20, highWater = 1L shl 30, resetWorks = false)
        val result = bench(memory).run(request().path)
        assertEquals(ModelMemory(4_718_592L, 4_718_592L, "android: VmRSS and VmHWM of /proc/self/status; /proc/self/clear_refs did not reset the peak, " +
            "so it is the level after the first inference (a lower bound)"), result.models[0].memory)
    }

    @Test
    fun `a probe without a peak counter that cannot reset says so`() {
        val memory = FakeMemory(method = "fake: resident bytes", peakReset = null, resetWorks = false, hasPeak = false)
        val result = bench(memory).run(request().path)
        assertEquals(
            "fake: resident bytes; the peak cannot be reset, so it is the level after the first inference (a lower bound)",
            result.models[1].memory!!.method
        )
        assertEquals(2_965_504L, result.models[1].memory!!.peakBytes)
    }

    @Test
    fun `memory freed during a load never makes its bytes negative`() {
        val result = bench(FakeMemory(), freedAtLoad = 50L shl 20).run(request().path)
        val memory = result.models[0].memory!!
        assertEquals(0L, memory.loadBytes)
        assertEquals(0L, memory.peakBytes)
    }

    @Test
    fun `a probe that fails leaves that model's memory out and the session ok`() {
        val memory = FakeMemory()
        memory.callsBeforeFailure = 3
        val result = bench(memory).run(request().path)
        assertEquals("ok", result.status)
        assertNull(result.models[0].memory)
        assertNull(result.models[1].memory)
        assertEquals(listOf(7.0, 7.0), result.models.map { it.loadMs })
    }
}
