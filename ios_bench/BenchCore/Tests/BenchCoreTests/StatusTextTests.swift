@testable import BenchCore
import XCTest

final class StatusTextTests: XCTestCase {
    func testAnOkRunShowsTheRoundsAndEachMedian() {
        let text = StatusText.outcome(.answered(FakeRunner.result(runId: "demo")), of: "runs/demo")

        XCTAssertEqual(text, "Done, 3 rounds, see runs/demo/result.json\nnet-a: median 1.500 ms")
    }

    func testAFailedRunShowsTheErrorAndWhereItIsWritten() {
        var result = FakeRunner.result(runId: "demo")
        result.status = .error
        result.error = "BenchError: model net-a failed to load: invalid model header"

        let text = StatusText.outcome(.answered(result), of: "runs/demo")

        XCTAssertEqual(text, "Failed, runs/demo/result.json says why:\nBenchError: model net-a failed to load: invalid model header")
    }

    func testARefusedRunShowsTheReason() {
        XCTAssertEqual(StatusText.outcome(.refused("disk full"), of: "runs/demo"), "Could not answer runs/demo: disk full")
    }

    func testTheResidentLoopShowsItsStateAndCount() {
        let heartbeat = ResidentHeartbeat(
            beat: 12, state: .running, run: "net-b", completed: 1, thermalState: .fair,
            idleTimerDisabled: true, startedAt: "2026-11-22T09:17:54Z", updatedAt: "2026-11-22T09:18:16Z"
        )

        XCTAssertEqual(StatusText.resident(heartbeat), "Resident: running net-b, 1 run done (beat 12).")
    }
}
