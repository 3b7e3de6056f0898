package org.autovit.bench.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.io.File

class BenchTest {
    @get:Rule
    val tmp = TemporaryFolder()

    private val clock = FakeClock()
    private val log = ArrayList<String>()
    private val device = DeviceFacts("android", "Pixel 7", "Android 14", 8, "Tensor G2")

    /** In fake time: loads take 7 ms, runs 1 ms (net-a) or 2 ms (net-b), first runs 3 ms longer. */
    private inner class FakeEngine(private val failing: String? = null) : Engine {
        val loaded = ArrayList<Pair<File, Int>>()
        val inputs = ArrayList<FloatArray>()
        val closed = ArrayList<File>()
        override val name = "executorch"
        override val version = "1.5.1"
        override var libraries: Map<String, String>? = null

        override fun threadsFor(requested: Int) = if (requested > 0) requested else 4

        override fun load(file: File, threads: Int): Program {
            if (file.name == failing) throw IllegalStateException("invalid program header")
            clock.now += 7_000_000
            loaded.add(file to threads)
            return object : Program {
                override fun bind(inputShape: List<Long>, input: FloatArray): Model {
                    inputs.add(input)
                    val steady = FakeModel(file.name, if (file.name == "net-a.pte") 1_000_000 else 2_000_000, clock, log)
                    var first = true
                    return object : Model {
                        override fun run() {
                            if (first) clock.now += 3_000_000
                            first = false
                            steady.run()
                        }
                    }
                }

                override fun close() {
                    closed.add(file)
                }
            }
        }
    }

    /** The golden pte request with a short timing plan, written into a fresh run directory. */
    private fun request(edit: (MutableMap<String, Any?>) -> Unit = {}): File {
        val doc = Golden.document("request_pte.json").toMutableMap()
        doc["warmup"] = mapOf("runs" to 2L, "seconds" to 0.0)
        doc["measure"] = mapOf("runs" to 3L, "seconds" to 0.0)
        edit(doc)
        val file = tmp.newFolder().resolve("request.json")
        file.writeText(Json.write(doc))
        return file
    }

    private fun bench(engine: Engine) = Bench(engine, device, clock) { 1_700_000_000_000L }

    @Test
    fun `a session reports each model's load, first inference and interleaved samples`() {
        val result = bench(FakeEngine()).run(request().path)
        assertNull(result.error)
        assertEquals("golden/pte", result.runId)
        assertEquals(3, result.rounds)
        assertEquals(listOf("net-a", "net-b"), result.models.map { it.id })
        assertEquals(listOf(7.0, 7.0), result.models.map { it.loadMs })
        assertEquals(listOf(4.0, 5.0), result.models.map { it.firstInferenceMs })
        assertEquals(listOf(7.0, 7.0), result.models.map { it.warmLoadMs })
        assertEquals(listOf(listOf(1.0, 1.0, 1.0), listOf(2.0, 2.0, 2.0)), result.models.map { it.samplesMs })
        assertEquals(result.models.map { Stats.summarize(it.samplesMs) }, result.models.map { it.summary })
    }

    @Test
    fun `model files are found relative to the request's folder`() {
        val requestFile = request()
        val engine = FakeEngine()
        bench(engine).run(requestFile.path)
        assertEquals(
            listOf("models/net-a.pte", "models/net-a.pte", "models/net-b.pte", "models/net-b.pte").map { File(requestFile.parentFile, it) },
            engine.loaded.map { it.first }
        )
    }

    @Test
    fun `the requested threads reach the engine and the result reports what it resolved them to`() {
        val engine = FakeEngine()
        val result = bench(engine).run(request { it["threads"] = 0L }.path)
        assertEquals(listOf(0, 0, 0, 0), engine.loaded.map { it.second })
        assertEquals(RuntimeFacts("executorch", "1.5.1", 4, null), result.runtime)
    }

    @Test
    fun `the libraries the engine links are reported with the runtime of a result and of an error result`() {
        val linked = mapOf("executorch" to "1.5.1", "android" to "14")
        for ((engine, status) in listOf(FakeEngine() to "ok", FakeEngine(failing = "net-b.pte") to "error")) {
            engine.libraries = linked
            val result = bench(engine).run(request().path)
            assertEquals(status, result.status)
            assertEquals(linked, (result.toJson()["runtime"] as Map<*, *>)["libraries"])
        }
    }

    @Test
    fun `an engine that reports no libraries leaves them out of the result`() {
        val result = bench(FakeEngine()).run(request().path)
        assertEquals("ok", result.status)
        assertFalse((result.toJson()["runtime"] as Map<*, *>).containsKey("libraries"))
    }

    @Test
    fun `inputs are standard-normal values drawn from the request's seed`() {
        val first = FakeEngine()
        val second = FakeEngine()
        bench(first).run(request { it["seed"] = 7L }.path)
        bench(second).run(request { it["seed"] = 7L }.path)
        assertEquals(listOf(3 * 64 * 64, 3 * 64 * 64), first.inputs.map { it.size })
        first.inputs.zip(second.inputs).forEach { (a, b) -> assertArrayEquals(a, b, 0f) }
        assertTrue(first.inputs[0].average() in -0.1..0.1)
    }

    @Test
    fun `the cool-down is waited after the first inferences and before the warm-up`() {
        val loggingClock = object : Clock {
            override fun nanoTime() = clock.nanoTime()

            override fun sleep(nanos: Long) {
                log.add("sleep ${nanos / 1_000_000} ms")
                clock.sleep(nanos)
            }
        }
        Bench(FakeEngine(), device, loggingClock) { 0L }.run(request { it["cooldown_s"] = 2.0 }.path)
        assertEquals(listOf("net-a.pte", "net-b.pte", "sleep 2000 ms", "net-a.pte"), log.take(4))
    }

    @Test
    fun `every loaded program is closed, the warm load's copy at once and the measured ones at the end`() {
        val engine = FakeEngine()
        bench(engine).run(request().path)
        assertEquals(listOf("net-a.pte", "net-b.pte", "net-a.pte", "net-b.pte"), engine.closed.map { it.name })
        assertEquals(engine.loaded.map { it.first }.sorted(), engine.closed.sorted())
    }

    @Test
    fun `a model that fails to load ends the session with an error naming it, closing what was loaded`() {
        val engine = FakeEngine(failing = "net-b.pte")
        val result = bench(engine).run(request().path)
        assertEquals("error", result.status)
        assertEquals("BenchError: model net-b failed to load: IllegalStateException: invalid program header", result.error)
        assertEquals("golden/pte", result.runId)
        assertEquals(0, result.rounds)
        assertTrue(result.models.isEmpty())
        assertEquals(listOf("net-a.pte", "net-a.pte"), engine.closed.map { it.name })
    }

    @Test
    fun `an invalid request ends with the contract's message and an unknown run id`() {
        val result = bench(FakeEngine()).run(request { it.remove("models") }.path)
        assertEquals("unknown", result.runId)
        assertTrue(result.error!!.startsWith("ContractError: "))
        assertTrue(result.error!!.endsWith("is not a valid request (at top level: 'models' is a required property)"))
    }

    @Test
    fun `no request path ends with an error that says how to pass one`() {
        val result = bench(FakeEngine()).run(null)
        assertEquals("ContractError: no request was given (start the activity with --es request <path of request.json>)", result.error)
    }

    @Test
    fun `a Core ML request is refused by the Android runner`() {
        val doc = Golden.document("request_coreml.json")
        val file = tmp.newFolder().resolve("request.json")
        file.writeText(Json.write(doc))
        val result = bench(FakeEngine()).run(file.path)
        assertEquals("BenchError: backend 'coreml' cannot run here: the Android runner runs ExecuTorch .pte models", result.error)
        assertEquals("golden/coreml", result.runId)
    }

    @Test
    fun `an interrupted session is an error result of the request's run with the reason`() {
        val result = bench(FakeEngine()).interrupted(request().path, "the benchmark activity was stopped mid-session")
        assertEquals("golden/pte", result.runId)
        assertEquals("error", result.status)
        assertEquals("the benchmark activity was stopped mid-session", result.error)
        assertEquals(4, result.runtime.threads)
        assertEquals(emptyList<ModelResult>(), result.models)
    }

    @Test
    fun `an interrupted session whose request cannot be read has an unknown run id`() {
        val result = bench(FakeEngine()).interrupted(tmp.root.resolve("missing.json").path, "stopped")
        assertEquals("unknown", result.runId)
        assertEquals("stopped", result.error)
    }

    @Test
    fun `times are written in UTC like the Python runner writes them`() {
        val result = bench(FakeEngine()).run(request().path)
        assertEquals("2023-11-14T22:13:20+00:00", result.startedAt)
        assertEquals("2023-11-14T22:13:20+00:00", result.finishedAt)
    }

    @Test
    fun `run and write leaves the result where asked, for ok and error sessions alike`() {
        val ok = bench(FakeEngine()).runAndWrite(request().path, ResultOutput.dir.resolve("result_ok.json"))
        val error = bench(FakeEngine(failing = "net-a.pte")).runAndWrite(request().path, ResultOutput.dir.resolve("result_error.json"))
        assertEquals(ok.toJson(), Json.parse(ResultOutput.dir.resolve("result_ok.json").readText()))
        assertEquals(error.toJson(), Json.parse(ResultOutput.dir.resolve("result_error.json").readText()))
    }
}
