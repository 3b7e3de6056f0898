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
        listOf(ModelResult("net-a", 12.5, 15.25, samples, Stats.summarize(samples), warmLoadMs = 4.75))
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
    fun `a result with memory is written as the golden result_memory json`() {
        val golden = Golden.document("result_memory.json")
        val models = (golden["models"] as List<*>).map { model ->
            model as Map<*, *>
            val summary = model["summary"] as Map<*, *>
            val memory = model["memory"] as Map<*, *>
            @Suppress("UNCHECKED_CAST")
            ModelResult(
                model["id"] as String, model["load_ms"] as Double, model["first_inference_ms"] as Double, model["samples_ms"] as List<Double>,
                Summary(
                    summary["median_ms"] as Double, summary["mean_ms"] as Double, summary["trimmed_mean_ms"] as Double, summary["p90_ms"] as Double,
                    summary["std_ms"] as Double, summary["min_ms"] as Double, summary["max_ms"] as Double, (summary["runs"] as Long).toInt()
                ),
                ModelMemory(memory["load_bytes"] as Long, memory["peak_bytes"] as Long, memory["method"] as String),
                model["warm_load_ms"] as Double
            )
        }
        val ours = BenchResult(
            "golden/pte-memory", null, device, runtime, "2026-11-22T09:17:54+00:00", "2026-11-22T09:18:08+00:00", 10, models
        ).toJson()
        assertEquals(golden, ours)
        assertEquals((golden["models"] as List<*>).map { (it as Map<*, *>).keys.toList() }, (ours["models"] as List<*>).map { (it as Map<*, *>).keys.toList() })
    }

    @Test
    fun `a result without memory leaves the key out, as the golden result_ok json does`() {
        val model = (ok.toJson()["models"] as List<*>).first() as Map<*, *>
        assertFalse(model.containsKey("memory"))
        assertFalse(((Golden.document("result_ok.json")["models"] as List<*>).first() as Map<*, *>).containsKey("memory"))
    }

    @Test
    fun `a result without a warm load leaves the key out, as apps before it wrote`() {
        val model = (ok.copy(models = ok.models.map { it.copy(warmLoadMs = null) }).toJson()["models"] as List<*>).first() as Map<*, *>
        assertFalse(model.containsKey("warm_load_ms"))
        assertEquals(listOf("id", "load_ms", "first_inference_ms", "samples_ms", "summary"), model.keys.toList())
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
