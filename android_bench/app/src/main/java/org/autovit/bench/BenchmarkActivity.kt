package org.autovit.bench

import android.app.Activity
import android.os.Build
import android.os.Bundle
import android.util.Log
import android.view.WindowManager
import android.widget.TextView
import java.io.File
import java.util.concurrent.atomic.AtomicBoolean
import org.autovit.bench.core.Bench
import org.autovit.bench.core.BenchResult
import org.autovit.bench.core.DeviceFacts
import org.autovit.bench.core.ProcStatusMemoryProbe
import org.autovit.bench.core.writeJsonAtomic

/**
 * The benchmark, started by the runner over adb:
 * `am start -W -S -n org.autovit.bench/.BenchmarkActivity --es request <path of request.json>`.
 *
 * Runs the request on a background thread while the activity stays in the foreground with the
 * screen kept on (a backgrounded app or a dozing phone gets throttled), writes `result.json` into
 * the app's external files folder (readable with `adb pull`, no root or debuggable build needed)
 * and finishes. The logic is in the core ([Bench]); this supplies the device, the engine and the
 * memory probe.
 *
 * The activity shows over the lock screen and turns the screen on, so a launch on a phone that
 * dozed off between sessions still runs in front. If it is stopped all the same mid-session (the
 * user locks the phone, another app comes to the front), the session's timings would be of a
 * frozen or throttled app: an error result is written at once, so the runner fails within a poll
 * instead of waiting out its timeout, and the session's own result is then dropped.
 */
class BenchmarkActivity : Activity() {
    /** Set by whichever writes the result first: the session when it ends, or [onStop] when it interrupts it. */
    private val resultWritten = AtomicBoolean(false)
    private lateinit var bench: Bench
    private lateinit var resultFile: File
    private var requestPath: String? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        showOverLockScreen()
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        val status = TextView(this)
        setContentView(status)
        requestPath = intent.getStringExtra(EXTRA_REQUEST)
        resultFile = File(checkNotNull(getExternalFilesDir(null)) { "shared storage is not mounted" }, RESULT_FILE)
        val cores = Runtime.getRuntime().availableProcessors()
        // The kernel's VmRSS/VmHWM: ExecuTorch's weights and buffers are native memory, outside the Java heap.
        bench = Bench(ExecuTorchEngine(cores), deviceFacts(cores), memoryProbe = ProcStatusMemoryProbe())
        status.text = "running ${requestPath ?: "(no request given)"}"
        Log.i(TAG, "ExecuTorch ${BuildConfig.EXECUTORCH_VERSION} (${BuildConfig.EXECUTORCH_AAR})")
        Thread({
            val result = bench.run(requestPath)
            val summary = if (write(result)) {
                "${result.status}: ${result.error ?: "${result.models.size} models, ${result.rounds} rounds"}; wrote $resultFile"
            } else {
                "the session was interrupted; its result was dropped"
            }
            Log.i(TAG, summary)
            runOnUiThread {
                status.text = summary
                finish()
            }
        }, "bench").start()
    }

    override fun onStop() {
        super.onStop()
        if (write(bench.interrupted(requestPath, STOPPED))) Log.w(TAG, "$STOPPED; wrote $resultFile")
    }

    /** Writes [result] unless a result was written already; true when this one was. */
    private fun write(result: BenchResult): Boolean {
        if (!resultWritten.compareAndSet(false, true)) return false
        writeJsonAtomic(resultFile, result.toJson())
        return true
    }

    private fun showOverLockScreen() {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.O_MR1) {
            setShowWhenLocked(true)
            setTurnScreenOn(true)
        } else {
            @Suppress("DEPRECATION")
            window.addFlags(WindowManager.LayoutParams.FLAG_SHOW_WHEN_LOCKED or WindowManager.LayoutParams.FLAG_TURN_SCREEN_ON)
        }
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
        private const val STOPPED =
            "the benchmark activity was stopped mid-session (the phone was locked or another app came to the front), " +
                "so its timings would be of a frozen app; keep the phone unlocked with the app in front and run again"
    }
}
