package org.autovit.bench

import android.app.Activity
import android.os.Build
import android.os.Bundle
import android.util.Log
import android.view.WindowManager
import android.widget.TextView
import java.io.File
import org.autovit.bench.core.Bench
import org.autovit.bench.core.DeviceFacts

/**
 * The benchmark, started by the runner over adb:
 * `am start -W -S -n org.autovit.bench/.BenchmarkActivity --es request <path of request.json>`.
 *
 * Runs the request on a background thread while the activity stays in the foreground with the
 * screen kept on (a backgrounded app or a dozing phone gets throttled), writes `result.json` into
 * the app's external files folder (readable with `adb pull`, no root or debuggable build needed)
 * and finishes. The logic is in the core ([Bench]); this supplies the device and the engine.
 */
class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        val status = TextView(this)
        setContentView(status)
        val requestPath = intent.getStringExtra(EXTRA_REQUEST)
        val resultFile = File(checkNotNull(getExternalFilesDir(null)) { "shared storage is not mounted" }, RESULT_FILE)
        status.text = "running ${requestPath ?: "(no request given)"}"
        Thread({
            val cores = Runtime.getRuntime().availableProcessors()
            val result = Bench(ExecuTorchEngine(cores), deviceFacts(cores)).runAndWrite(requestPath, resultFile)
            val summary = "${result.status}: ${result.error ?: "${result.models.size} models, ${result.rounds} rounds"}; wrote $resultFile"
            Log.i(TAG, summary)
            runOnUiThread {
                status.text = summary
                finish()
            }
        }, "bench").start()
    }

    private fun deviceFacts(cores: Int) = DeviceFacts(
        platform = "android",
        model = Build.MODEL,
        os = "Android ${Build.VERSION.RELEASE}",
        cores = cores,
        cpuModel = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S && Build.SOC_MODEL != Build.UNKNOWN) Build.SOC_MODEL else Build.HARDWARE
    )

    companion object {
        const val EXTRA_REQUEST = "request"
        const val RESULT_FILE = "result.json"
        private const val TAG = "AutoViTBench"
    }
}
