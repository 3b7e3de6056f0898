package org.autovit.bench.core

import java.io.File
import java.nio.file.Files

/** The shared contract vectors in `tests/contract/`, found through the `contract.dir` system property. */
object Golden {
    val dir: File by lazy {
        val path = System.getProperty("contract.dir") ?: error("set -Dcontract.dir to the repository's tests/contract folder")
        File(path).also { require(it.isDirectory) { "contract.dir $it is not a folder" } }
    }

    fun file(name: String): File = File(dir, name)

    fun text(name: String): String = file(name).readText()

    @Suppress("UNCHECKED_CAST")
    fun document(name: String): Map<String, Any?> = Json.parse(text(name)) as Map<String, Any?>

    fun invalidRequests(): List<File> =
        dir.listFiles { f -> f.name.startsWith("request_invalid_") && f.name.endsWith(".json") }.orEmpty().sortedBy { it.name }
}

/**
 * Where tests leave results for the Python side to validate against `result.v1.json`: the
 * `result.out.dir` system property when set (run_tests.sh passes it on), else a fresh temp folder.
 */
object ResultOutput {
    val dir: File by lazy {
        System.getProperty("result.out.dir")?.let { File(it).apply { mkdirs() } } ?: Files.createTempDirectory("bench-results").toFile()
    }
}
