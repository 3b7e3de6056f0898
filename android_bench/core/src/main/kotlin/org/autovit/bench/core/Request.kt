package org.autovit.bench.core

import java.io.File
import java.io.FileNotFoundException

/** A request or result that does not follow the contract (`orchestrator/measure/schemas/request.v1.json` and `result.v1.json`). */
class ContractError(message: String) : Exception(message)

/** At least [runs] runs and at least [seconds] seconds: the warm-up and the measured phase. */
data class Phase(val runs: Int, val seconds: Double)

/** One model of a request; [file] is relative to the run directory (the folder of request.json). */
data class ModelSpec(val id: String, val file: String, val inputShape: List<Long>, val inputName: String?)

/** A parsed, validated `request.json` (schema `autovit-bench/request`, version 1). */
data class BenchRequest(
    val runId: String,
    val backend: String,
    val models: List<ModelSpec>,
    val threads: Int,
    val computeUnits: String?,
    val warmup: Phase,
    val measure: Phase,
    /** `measure.burst`: runs of each model back to back in every round, warm-up included, the last one timed. */
    val burst: Int,
    val cooldownSeconds: Double,
    val seed: Long
) {
    val timingPlan: TimingPlan
        get() = TimingPlan(warmup.runs, warmup.seconds, measure.runs, measure.seconds, burst)

    companion object {
        const val SCHEMA = "autovit-bench/request"
        const val VERSION = 1

        fun read(file: File): BenchRequest {
            val text = try {
                file.readText()
            } catch (e: FileNotFoundException) {
                throw ContractError("$file does not exist or cannot be read")
            }
            return parse(text, file.path)
        }

        /** Refuses, with a [ContractError] naming the place and the problem, what request.v1.json refuses. */
        fun parse(text: String, source: String): BenchRequest {
            val doc = try {
                Json.parse(text)
            } catch (e: JsonException) {
                throw ContractError("$source is not valid JSON (${e.message})")
            }
            return fromDocument(Node(doc, emptyList(), source))
        }

        private fun fromDocument(root: Node): BenchRequest {
            root.obj(
                required = listOf("schema", "version", "run_id", "backend", "models", "threads", "compute_units", "warmup", "measure", "seed"),
                optional = listOf("cooldown_s")
            )
            root["schema"].constant(SCHEMA)
            root["version"].constant(VERSION.toLong())
            val models = root["models"].array(minItems = 1).map(::modelSpec)
            val ids = HashSet<String>()
            models.forEachIndexed { i, model ->
                if (!ids.add(model.id)) root["models"][i]["id"].fail("model id ${repr(model.id)} appears more than once")
            }
            return BenchRequest(
                runId = root["run_id"].string(minLength = 1),
                backend = root["backend"].oneOf(listOf("pte", "coreml")) as String,
                models = models,
                threads = root["threads"].int(minimum = 0),
                computeUnits = root["compute_units"].oneOf(listOf(null, "all", "cpuOnly", "cpuAndGPU", "cpuAndNeuralEngine")) as String?,
                warmup = phase(root["warmup"], minRuns = 0),
                measure = phase(root["measure"], minRuns = 1, optional = listOf("burst")),
                burst = burst(root["measure"]),
                cooldownSeconds = if (root.has("cooldown_s")) root["cooldown_s"].number(minimum = 0.0) else 0.0,
                seed = root["seed"].integer()
            )
        }

        private fun modelSpec(node: Node): ModelSpec {
            node.obj(required = listOf("id", "file", "input_shape"), optional = listOf("input_name"))
            return ModelSpec(
                id = node["id"].string(minLength = 1),
                file = node["file"].string(),
                inputShape = node["input_shape"].array(minItems = 1).map { it.integer(minimum = 1) },
                inputName = if (node.has("input_name")) node["input_name"].string() else null
            )
        }

        private fun phase(node: Node, minRuns: Long, optional: List<String> = emptyList()): Phase {
            node.obj(required = listOf("runs", "seconds"), optional = optional)
            return Phase(node["runs"].int(minimum = minRuns), node["seconds"].number(minimum = 0.0))
        }

        /**
         * Absent in requests written before bursts existed, and in those with a burst of 1
         * (`make_request` leaves it out): one run per round.
         */
        private fun burst(measure: Node): Int = if (measure.has("burst")) measure["burst"].int(minimum = 1, maximum = 100) else 1
    }
}

/**
 * One place in a JSON document, with the checks of the schema's vocabulary. Messages follow the
 * Python validator's (`jsonschema`) wording so that every runner refuses a request the same way.
 */
private class Node(val value: Any?, val path: List<String>, val source: String) {
    fun fail(message: String): Nothing {
        val where = if (path.isEmpty()) "top level" else path.joinToString("/")
        throw ContractError("$source is not a valid request (at $where: $message)")
    }

    fun has(key: String): Boolean = (value as Map<*, *>).containsKey(key)

    operator fun get(key: String): Node = Node((value as Map<*, *>)[key], path + key, source)

    operator fun get(index: Int): Node = Node((value as List<*>)[index], path + index.toString(), source)

    fun obj(required: List<String>, optional: List<String>) {
        val map = value as? Map<*, *> ?: fail("${repr(value)} is not of type 'object'")
        required.firstOrNull { it !in map }?.let { fail("${repr(it)} is a required property") }
        val unexpected = map.keys.filter { it !in required && it !in optional }
        if (unexpected.isNotEmpty()) {
            val verb = if (unexpected.size == 1) "was" else "were"
            fail("Additional properties are not allowed (${unexpected.joinToString(", ") { repr(it) }} $verb unexpected)")
        }
    }

    fun array(minItems: Int): List<Node> {
        val list = value as? List<*> ?: fail("${repr(value)} is not of type 'array'")
        if (list.size < minItems) fail("${repr(list)} should be non-empty")
        return list.indices.map { this[it] }
    }

    fun string(minLength: Int = 0): String {
        val s = value as? String ?: fail("${repr(value)} is not of type 'string'")
        if (s.length < minLength) fail("${repr(s)} should be non-empty")
        return s
    }

    /** JSON Schema's integer: a whole number, also when written with a fraction (`4.0`). */
    fun integer(minimum: Long = Long.MIN_VALUE): Long {
        val v = value
        val whole = when {
            v is Long -> v
            v is Double && v == Math.floor(v) && v >= Long.MIN_VALUE && v <= Long.MAX_VALUE -> v.toLong()
            else -> fail("${repr(v)} is not of type 'integer'")
        }
        if (whole < minimum) fail("${repr(v)} is less than the minimum of $minimum")
        return whole
    }

    fun int(minimum: Long, maximum: Long = Int.MAX_VALUE.toLong()): Int {
        val whole = integer(minimum)
        if (whole > maximum) fail("${repr(value)} is greater than the maximum of $maximum")
        return whole.toInt()
    }

    fun number(minimum: Double): Double {
        val v = value
        val number = when (v) {
            is Long -> v.toDouble()
            is Double -> v
            else -> fail("${repr(v)} is not of type 'number'")
        }
        if (number < minimum) fail("${repr(v)} is less than the minimum of ${repr(minimum)}")
        return number
    }

    fun constant(expected: Any) {
        val v = value
        val same = if (expected is Long) (v is Long && v == expected) || (v is Double && v == expected.toDouble()) else v == expected
        if (!same) fail("${repr(expected)} was expected")
    }

    fun oneOf(allowed: List<Any?>): Any? {
        if (value !in allowed) fail("${repr(value)} is not one of ${repr(allowed)}")
        return value
    }
}

/** Python's `repr` of a JSON value, so messages read like the Python runner's. */
private fun repr(value: Any?): String = when (value) {
    null -> "None"
    true -> "True"
    false -> "False"
    is String -> "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    is List<*> -> value.joinToString(", ", "[", "]") { repr(it) }
    is Map<*, *> -> value.entries.joinToString(", ", "{", "}") { "${repr(it.key)}: ${repr(it.value)}" }
    else -> value.toString()
}
