package org.autovit.bench

import android.os.Build
import java.io.File
import org.autovit.bench.core.Engine
import org.autovit.bench.core.Model
import org.autovit.bench.core.Program
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor

/**
 * ExecuTorch through its Android library (`org.pytorch:executorch-android`), XNNPACK included.
 *
 * Threads: `Module.load(path, loadMode, numThreads)` resets ExecuTorch's single shared thread pool
 * (used by XNNPACK and the optimized kernels) to `numThreads`; with 0 the library's JNI layer picks
 * cpuinfo's processor count / 2 (`extension/android/jni/jni_layer.cpp`). The library has no call
 * that reads the pool size back, so for a request with threads = 0 the result reports that rule
 * applied to this device's core count: what the library documents it uses, not a measured count.
 */
class ExecuTorchEngine(private val cores: Int) : Engine {
    override val name = "executorch"
    override val version: String = BuildConfig.EXECUTORCH_VERSION

    /** The AAR's version as the build recorded it (app/build.gradle.kts) and the Android release it runs on. */
    override val libraries: Map<String, String> = mapOf("executorch" to BuildConfig.EXECUTORCH_VERSION, "android" to Build.VERSION.RELEASE)

    override fun threadsFor(requested: Int): Int = if (requested > 0) requested else maxOf(1, cores / 2)

    /**
     * Reads the whole file (LOAD_MODE_FILE, so no page faults land in the first inference) and
     * loads `forward`, as the host runner's `load_program` + `load_method` do.
     */
    override fun load(file: File, threads: Int): Program {
        val module = Module.load(file.path, Module.LOAD_MODE_FILE, threads)
        try {
            // loadMethod returns an ExecuTorch error code in the Java API and throws in its Kotlin
            // rewrite (pytorch/executorch#19821); reading it as Any handles either.
            val status: Any = module.loadMethod("forward")
            if (status is Int && status != 0) throw IllegalStateException("loading method forward failed with ExecuTorch error 0x${Integer.toHexString(status)}")
        } catch (e: Exception) {
            module.destroy()
            throw e
        }
        return ExecuTorchProgram(module)
    }
}

private class ExecuTorchProgram(private val module: Module) : Program {
    override fun bind(inputShape: List<Long>, input: FloatArray): Model {
        val inputs = EValue.from(Tensor.fromBlob(input, inputShape.toLongArray()))
        return object : Model {
            override fun run() {
                module.forward(inputs)
            }
        }
    }

    override fun close() = module.destroy()
}
