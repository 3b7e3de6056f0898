package org.autovit.bench.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder

class ResultTest {
    @get:Rule
    val tmp = TemporaryFolder()

    private val device = DeviceFacts("android", "Pixel 7", "Android 14", 8, null)
    private val runtime = RuntimeFacts("executorch", "1.5.1", 4, null)
    private val samples = listOf(10.2, 9.9, 10.5)
    private val ok = BenchResult(
        "golden/pte", null, device, runtime, "2026-11-22T09:17:54+00:00", "2026-11-22T09:18:08+00:00", 3,
        listOf(ModelResult("net-a", 12.5, 15.25, samples, Stats.summarize(samples)))
    )

    @Test
    fun `a written result reads back equal`() {
        val file = tmp.root.resolve("result.json")
        writeJsonAtomic(file, ok.toJson())
        assertEquals(ok.toJson(), Json.parse(file.readText()))
    }

    @Test
    fun `writing replaces the old result and leaves no temp file behind`() {
        val file = tmp.root.resolve("result.json")
        file.writeText("old")
        writeJsonAtomic(file, ok.toJson())
        assertEquals(ok.toJson(), Json.parse(file.readText()))
        assertEquals(listOf("result.json"), tmp.root.list().toList())
    }

    @Test
    fun `missing folders are created`() {
        val file = tmp.root.resolve("a/b/result.json")
        writeJsonAtomic(file, ok.toJson())
        assertEquals(ok.toJson(), Json.parse(file.readText()))
    }

    @Test
    fun `a result has the golden result's fields at every level`() {
        val golden = Golden.document("result_ok.json")
        val ours = ok.toJson()
        assertEquals(golden.keys, ours.keys)
        for (key in listOf("device", "runtime")) assertEquals(key, (golden[key] as Map<*, *>).keys, (ours[key] as Map<*, *>).keys)
        val goldenModel = (golden["models"] as List<*>).first() as Map<*, *>
        val ourModel = (ours["models"] as List<*>).first() as Map<*, *>
        assertEquals(goldenModel.keys, ourModel.keys)
        assertEquals((goldenModel["summary"] as Map<*, *>).keys, (ourModel["summary"] as Map<*, *>).keys)
    }

    @Test
    fun `the status is error exactly when there is an error`() {
        assertEquals("ok", ok.status)
        assertEquals("error", ok.copy(error = "model net-b failed to load").status)
    }

    @Test
    fun `an unknown cpu model is left out rather than written as null`() {
        assertFalse(device.toJson().containsKey("cpu_model"))
        assertEquals("Tensor G2", device.copy(cpuModel = "Tensor G2").toJson()["cpu_model"])
    }

    @Test
    fun `the runtime's libraries are written when set and left out when not`() {
        assertFalse(runtime.toJson().containsKey("libraries"))
        val linked = runtime.copy(libraries = mapOf("executorch" to "1.5.1", "android" to "14")).toJson()
        assertEquals(mapOf("executorch" to "1.5.1", "android" to "14"), linked["libraries"])
        assertEquals(listOf("name", "version", "threads", "compute_units", "libraries"), linked.keys.toList())
    }
}
