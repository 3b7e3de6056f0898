package org.autovit.bench.core

import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/**
 * Runs the JUnit 4 classes named on the command line (run_tests.sh passes every `*Test` class),
 * prints each failure, and ends with the `N passed, N failed` line that CI reads.
 */
fun main(args: Array<String>) {
    val junit = JUnitCore()
    junit.addListener(object : RunListener() {
        override fun testFailure(failure: Failure) {
            println("FAILED ${failure.description.displayName}")
            println(failure.trace)
        }
    })
    val result = junit.run(*args.map { Class.forName(it) }.toTypedArray())
    val failed = result.failureCount
    println("${result.runCount - failed} passed, $failed failed")
    exitProcess(if (failed == 0 && result.runCount > 0) 0 else 1)
}
