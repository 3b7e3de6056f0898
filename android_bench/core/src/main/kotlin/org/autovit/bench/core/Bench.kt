package org.autovit.bench.core

import java.io.Closeable
import java.io.File
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.Random
import java.util.TimeZone

/** A model runtime: ExecuTorch on the phone, fakes in the tests. */
interface Engine {
    val name: String
    val version: String

    /** The versions of the libraries it links and runs on, for the result's `runtime.libraries` (null: none reported). */
    val libraries: Map<String, String>?
        get() = null

    /** The thread count a session that asked for [requested] threads (0 = the runtime's default) runs with. */
    fun threadsFor(requested: Int): Int

    /** Loads [file] and prepares its forward method: everything that `load_ms` reports. */
    fun load(file: File, threads: Int): Program
}

/** A loaded program; closing it frees the runtime's memory for it. */
interface Program : Closeable {
    /** A model that runs on [input] (of [inputShape], row-major); untimed, as it copies the input. */
    fun bind(inputShape: List<Long>, input: FloatArray): Model
}

/** A failure of the benchmark itself (as opposed to a malformed request). */
class BenchError(message: String, cause: Throwable? = null) : Exception(message, cause)

/**
 * One benchmark session: the Android counterpart of `orchestrator/runners/host_child.py`.
 *
 * Reads the request, loads every model (timing the load and the first inference of each, and with
 * a [MemoryProbe] reading the memory each adds), waits the request's cool-down, warms up and
 * measures interleaved rounds, and returns the result.
 * Whatever goes wrong becomes a result with status "error" and the reason, because the result file
 * is the only thing the runner on the other end of adb gets to see.
 */
class Bench(
    private val engine: Engine,
    private val device: DeviceFacts,
    private val clock: Clock = MonotonicClock,
    /** Reads each model's memory at its load and first inference; null leaves `memory` out of the result. */
    private val memoryProbe: MemoryProbe? = null,
    private val wallClockMillis: () -> Long = System::currentTimeMillis
) {
    /** Runs the request at [requestPath] (null when the caller was given none) and writes the result atomically to [resultFile]. */
    fun runAndWrite(requestPath: String?, resultFile: File): BenchResult {
        val result = run(requestPath)
        writeJsonAtomic(resultFile, result.toJson())
        return result
    }

    fun run(requestPath: String?): BenchResult {
        val startedAt = now()
        var request: BenchRequest? = null
        return try {
            if (requestPath == null) throw ContractError("no request was given (start the activity with --es request <path of request.json>)")
            val requestFile = File(requestPath)
            val parsed = BenchRequest.read(requestFile)
            request = parsed
            if (parsed.backend != "pte") throw BenchError("backend '${parsed.backend}' cannot run here: the Android runner runs ExecuTorch .pte models")
            measure(parsed, requestFile.absoluteFile.parentFile, startedAt)
        } catch (e: Throwable) {
            failure(request, describe(e), startedAt)
        }
    }

    /**
     * The error result of a session that the phone interrupted for [reason] (the activity was
     * stopped): timings taken while the app was frozen or throttled are not kept, and the runner
     * must hear at once rather than wait out its timeout. The run id is read from the request
     * when it can be, so that the runner knows the failure is its session's.
     */
    fun interrupted(requestPath: String?, reason: String): BenchResult {
        val request = requestPath?.let { runCatching { BenchRequest.read(File(it)) }.getOrNull() }
        return failure(request, reason, now())
    }

    private fun failure(request: BenchRequest?, error: String, startedAt: String) = BenchResult(
        runId = request?.runId ?: "unknown",
        error = error,
        device = device,
        runtime = RuntimeFacts(engine.name, engine.version, request?.let { engine.threadsFor(it.threads) } ?: 0, null, engine.libraries),
        startedAt = startedAt,
        finishedAt = now(),
        rounds = 0,
        models = emptyList()
    )

    private fun measure(request: BenchRequest, runDir: File, startedAt: String): BenchResult {
        val random = Random(request.seed)
        val programs = ArrayList<Program>()
        try {
            val models = LinkedHashMap<String, Model>()
            val loadMs = HashMap<String, Double>()
            val firstMs = HashMap<String, Double>()
            val warmMs = HashMap<String, Double>()
            val memory = HashMap<String, ModelMemory?>()
            for (spec in request.models) {
                val meter = memoryProbe?.let { MemoryMeter.start(it) }
                val loadStart = clock.nanoTime()
                val program = try {
                    engine.load(File(runDir, spec.file), request.threads)
                } catch (e: Exception) {
                    throw BenchError("model ${spec.id} failed to load: ${describe(e)}", e)
                }
                programs.add(program)
                loadMs[spec.id] = (clock.nanoTime() - loadStart) / 1e6
                meter?.loaded()
                val model = program.bind(spec.inputShape, gaussianInput(spec, random))
                val firstStart = clock.nanoTime()
                try {
                    model.run()
                } catch (e: Exception) {
                    throw BenchError("model ${spec.id} failed at its first inference: ${describe(e)}", e)
                }
                firstMs[spec.id] = (clock.nanoTime() - firstStart) / 1e6
                memory[spec.id] = meter?.ran()
                models[spec.id] = model
                warmMs[spec.id] = warmLoadMs(spec, runDir, request.threads)
            }
            clock.sleep((request.cooldownSeconds * 1e9).toLong())
            val samples = interleavedLatencies(models, request.timingPlan, clock)
            return BenchResult(
                runId = request.runId,
                error = null,
                device = device,
                runtime = RuntimeFacts(engine.name, engine.version, engine.threadsFor(request.threads), null, engine.libraries),
                startedAt = startedAt,
                finishedAt = now(),
                rounds = samples.getValue(request.models.first().id).size,
                models = request.models.map {
                    val modelSamples = samples.getValue(it.id)
                    ModelResult(
                        it.id, loadMs.getValue(it.id), firstMs.getValue(it.id), modelSamples, Stats.summarize(modelSamples), memory[it.id], warmMs.getValue(it.id)
                    )
                }
            )
        } finally {
            programs.forEach { it.close() }
        }
    }

    /**
     * A second open of a program this session has opened and run (its file cached, the runtime
     * started): what an app pays to reopen a model, as Qualcomm AI Hub's warm load. Measured after
     * the model's memory was read, and closed at once, so it adds to neither figure.
     */
    private fun warmLoadMs(spec: ModelSpec, runDir: File, threads: Int): Double {
        val start = clock.nanoTime()
        val again = try {
            engine.load(File(runDir, spec.file), threads)
        } catch (e: Exception) {
            throw BenchError("model ${spec.id} failed to load a second time: ${describe(e)}", e)
        }
        val elapsed = (clock.nanoTime() - start) / 1e6
        again.close()
        return elapsed
    }

    private fun now(): String {
        val format = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'+00:00'", Locale.ROOT)
        format.timeZone = TimeZone.getTimeZone("UTC")
        return format.format(Date(wallClockMillis()))
    }
}

/** Standard-normal input values, drawn in request order from one generator seeded with the request's seed. */
private fun gaussianInput(spec: ModelSpec, random: Random): FloatArray {
    val count = spec.inputShape.fold(1L) { acc, d -> acc * d }
    if (count > Int.MAX_VALUE) throw BenchError("model ${spec.id}'s input ${spec.inputShape} has more elements than an array holds")
    return FloatArray(count.toInt()) { random.nextGaussian().toFloat() }
}

private fun describe(e: Throwable): String = "${e.javaClass.simpleName}: ${e.message}"
