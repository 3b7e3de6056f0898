package org.autovit.bench.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class RequestTest {
    private fun refusal(text: String, source: String = "request.json"): String =
        try {
            BenchRequest.parse(text, source)
            throw AssertionError("accepted $text")
        } catch (e: ContractError) {
            e.message!!
        }

    private fun goldenWith(key: String, valueJson: String): String {
        val doc = Golden.document("request_pte.json").toMutableMap()
        doc[key] = Json.parse(valueJson)
        return Json.write(doc)
    }

    @Test
    fun `the golden pte request parses into its models, threads and timing`() {
        val request = BenchRequest.read(Golden.file("request_pte.json"))
        assertEquals("golden/pte", request.runId)
        assertEquals("pte", request.backend)
        assertEquals(listOf("net-a", "net-b"), request.models.map { it.id })
        assertEquals("models/net-a.pte", request.models[0].file)
        assertEquals(listOf(1L, 3L, 64L, 64L), request.models[0].inputShape)
        assertEquals(4, request.threads)
        assertNull(request.computeUnits)
        assertEquals(TimingPlan(10, 0.5, 50, 1.0, burst = 1), request.timingPlan)
        assertEquals(0.0, request.cooldownSeconds, 0.0)
        assertEquals(0L, request.seed)
    }

    @Test
    fun `the golden coreml request parses with its compute units and input name`() {
        val request = BenchRequest.read(Golden.file("request_coreml.json"))
        assertEquals("coreml", request.backend)
        assertEquals("all", request.computeUnits)
        assertEquals("x", request.models.single().inputName)
        assertEquals(2.0, request.cooldownSeconds, 0.0)
    }

    @Test
    fun `the golden burst request parses with its burst in the timing plan`() {
        assertEquals(TimingPlan(10, 0.5, 50, 1.0, burst = 3), BenchRequest.read(Golden.file("request_burst.json")).timingPlan)
    }

    @Test
    fun `the golden request with a burst of zero runs is refused naming the burst`() {
        assertEquals(
            "request_invalid_burst.json is not a valid request (at measure/burst: 0 is less than the minimum of 1)",
            refusal(Golden.text("request_invalid_burst.json"), "request_invalid_burst.json")
        )
    }

    @Test
    fun `the golden request with an unknown backend is refused naming the backend`() {
        assertEquals(
            "request_invalid_backend.json is not a valid request (at backend: 'tflite' is not one of ['pte', 'coreml'])",
            refusal(Golden.text("request_invalid_backend.json"), "request_invalid_backend.json")
        )
    }

    @Test
    fun `the golden request without models is refused naming the missing property`() {
        assertEquals(
            "request_invalid_missing_models.json is not a valid request (at top level: 'models' is a required property)",
            refusal(Golden.text("request_invalid_missing_models.json"), "request_invalid_missing_models.json")
        )
    }

    @Test
    fun `every golden invalid request is refused`() {
        val files = Golden.invalidRequests()
        assertTrue("no request_invalid_*.json in ${Golden.dir}", files.isNotEmpty())
        for (file in files) assertTrue(refusal(file.readText(), file.name).startsWith("${file.name} is not a valid request"))
    }

    @Test
    fun `a negative thread count is refused`() {
        assertTrue(refusal(goldenWith("threads", "-1")).endsWith("(at threads: -1 is less than the minimum of 0)"))
    }

    @Test
    fun `a boolean is not an integer`() {
        assertTrue(refusal(goldenWith("seed", "true")).endsWith("(at seed: True is not of type 'integer')"))
    }

    @Test
    fun `a whole number written with a fraction is an integer, as in JSON Schema`() {
        assertEquals(3, BenchRequest.parse(goldenWith("threads", "3.0"), "r").threads)
    }

    @Test
    fun `an unknown top-level property is refused`() {
        assertTrue(refusal(goldenWith("extra", "1")).endsWith("(at top level: Additional properties are not allowed ('extra' was unexpected))"))
    }

    @Test
    fun `an empty model list is refused`() {
        assertTrue(refusal(goldenWith("models", "[]")).endsWith("(at models: [] should be non-empty)"))
    }

    @Test
    fun `a zero dimension in an input shape is refused with its path`() {
        val models = """[{"id": "a", "file": "a.pte", "input_shape": [1, 0]}]"""
        assertTrue(refusal(goldenWith("models", models)).endsWith("(at models/0/input_shape/1: 0 is less than the minimum of 1)"))
    }

    @Test
    fun `measuring zero runs is refused`() {
        assertTrue(refusal(goldenWith("measure", """{"runs": 0, "seconds": 1}""")).endsWith("(at measure/runs: 0 is less than the minimum of 1)"))
    }

    @Test
    fun `a burst above 100 runs is refused`() {
        val measure = """{"runs": 50, "seconds": 1.0, "burst": 101}"""
        assertTrue(refusal(goldenWith("measure", measure)).endsWith("(at measure/burst: 101 is greater than the maximum of 100)"))
    }

    @Test
    fun `a burst that is not a whole number is refused`() {
        val measure = """{"runs": 50, "seconds": 1.0, "burst": 2.5}"""
        assertTrue(refusal(goldenWith("measure", measure)).endsWith("(at measure/burst: 2.5 is not of type 'integer')"))
    }

    @Test
    fun `a burst belongs to the measurement, not the warm-up`() {
        val warmup = """{"runs": 10, "seconds": 0.5, "burst": 3}"""
        assertTrue(refusal(goldenWith("warmup", warmup)).endsWith("(at warmup: Additional properties are not allowed ('burst' was unexpected))"))
    }

    @Test
    fun `two models with one id are refused`() {
        val models = """[{"id": "a", "file": "a.pte", "input_shape": [1]}, {"id": "a", "file": "b.pte", "input_shape": [1]}]"""
        assertTrue(refusal(goldenWith("models", models)).endsWith("(at models/1/id: model id 'a' appears more than once)"))
    }

    @Test
    fun `a request that is not JSON is refused as such`() {
        assertTrue(refusal("{\"schema\": ").startsWith("request.json is not valid JSON (unexpected end of input at line 1 column 12)"))
    }

    @Test
    fun `a missing request file is refused naming the file`() {
        val message = try {
            BenchRequest.read(Golden.file("no_such_request.json"))
            throw AssertionError("read a missing file")
        } catch (e: ContractError) {
            e.message!!
        }
        assertTrue(message.contains("no_such_request.json does not exist"))
    }
}
