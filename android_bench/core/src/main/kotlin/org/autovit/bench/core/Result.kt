package org.autovit.bench.core

import java.io.File
import java.io.FileOutputStream
import java.io.IOException

data class DeviceFacts(val platform: String, val model: String, val os: String, val cores: Int, val cpuModel: String?) {
    fun toJson(): Map<String, Any?> {
        val doc = linkedMapOf<String, Any?>("platform" to platform, "model" to model, "os" to os, "cores" to cores.toLong())
        if (cpuModel != null) doc["cpu_model"] = cpuModel
        return doc
    }
}

/**
 * The runtime that ran the session. [libraries]: the versions of what it links and runs on (the
 * ExecuTorch AAR, the Android release), written as `runtime.libraries` when set and left out when not.
 */
data class RuntimeFacts(
    val name: String,
    val version: String,
    val threads: Int,
    val computeUnits: String?,
    val libraries: Map<String, String>? = null
) {
    fun toJson(): Map<String, Any?> {
        val doc = linkedMapOf<String, Any?>("name" to name, "version" to version, "threads" to threads.toLong(), "compute_units" to computeUnits)
        if (libraries != null) doc["libraries"] = libraries
        return doc
    }
}

/**
 * One model's measurements; [memory] is written when it was measured and left out when not (no
 * probe, as in apps before it). [warmLoadMs]: a second open of the program once it has run (as
 * Qualcomm AI Hub reports a warm load), left out when not measured, as apps before it did not.
 */
data class ModelResult(
    val id: String,
    val loadMs: Double,
    val firstInferenceMs: Double,
    val samplesMs: List<Double>,
    val summary: Summary,
    val memory: ModelMemory? = null,
    val warmLoadMs: Double? = null
) {
    fun toJson(): Map<String, Any?> {
        val doc = linkedMapOf<String, Any?>(
            "id" to id,
            "load_ms" to loadMs,
            "first_inference_ms" to firstInferenceMs
        )
        if (warmLoadMs != null) doc["warm_load_ms"] = warmLoadMs
        doc["samples_ms"] = samplesMs
        doc["summary"] = summary.toJson()
        if (memory != null) doc["memory"] = memory.toJson()
        return doc
    }
}

/** A `result.json` (schema `autovit-bench/result`, version 1); the status is "error" exactly when [error] is set. */
data class BenchResult(
    val runId: String,
    val error: String?,
    val device: DeviceFacts,
    val runtime: RuntimeFacts,
    val startedAt: String,
    val finishedAt: String,
    val rounds: Int,
    val models: List<ModelResult>
) {
    val status: String
        get() = if (error == null) "ok" else "error"

    fun toJson(): Map<String, Any?> = linkedMapOf(
        "schema" to SCHEMA,
        "version" to VERSION.toLong(),
        "run_id" to runId,
        "status" to status,
        "error" to error,
        "device" to device.toJson(),
        "runtime" to runtime.toJson(),
        "started_at" to startedAt,
        "finished_at" to finishedAt,
        "rounds" to rounds.toLong(),
        "models" to models.map { it.toJson() }
    )

    companion object {
        const val SCHEMA = "autovit-bench/result"
        const val VERSION = 1
    }
}

/**
 * Writes [doc] as JSON to a temp file in the same folder, syncs it and renames it over [file], so a
 * reader polling for [file] (the runner, over adb) sees no file or the whole document, never a part.
 */
fun writeJsonAtomic(file: File, doc: Any?) {
    val folder = file.absoluteFile.parentFile
    if (!folder.isDirectory && !folder.mkdirs()) throw IOException("cannot create $folder")
    val tmp = File(folder, ".${file.name}.tmp")
    FileOutputStream(tmp).use { out ->
        out.write(Json.write(doc).toByteArray(Charsets.UTF_8))
        out.fd.sync()
    }
    if (!tmp.renameTo(file)) throw IOException("cannot rename $tmp to $file")
}
