import BenchCore
import XCTest

/// The phone's Auto-Lock: off while the app is resident, as it was before once the loop ends.
final class ResidentIdleTimerTests: ResidentTestCase {
    func testTheIdleTimerIsDisabledWhileARunIsServed() async throws {
        try enqueue("net-a")
        let files = files!
        let idleTimer = FakeIdleTimer(disabled: false)
        let duringRun = Locked<Bool?>(nil)
        let runner = FakeRunner { _ in
            duringRun.mutate { $0 = idleTimer.disabled }
            files.requestStop()
        }

        await runToEnd(loop(runner: runner, idleTimer: idleTimer))

        XCTAssertEqual(duringRun.value, true)
    }

    func testTheIdleTimerIsRestoredWhenTheLoopStops() async throws {
        try enqueue("net-a")
        let files = files!
        let idleTimer = FakeIdleTimer(disabled: false)

        await runToEnd(loop(runner: FakeRunner { _ in files.requestStop() }, idleTimer: idleTimer))

        XCTAssertEqual(idleTimer.settings, [true, false])
        XCTAssertFalse(idleTimer.disabled)
    }

    func testAnIdleTimerThatWasAlreadyDisabledStaysDisabled() async throws {
        try enqueue("net-a")
        let files = files!
        let idleTimer = FakeIdleTimer(disabled: true)

        await runToEnd(loop(runner: FakeRunner { _ in files.requestStop() }, idleTimer: idleTimer))

        XCTAssertTrue(idleTimer.disabled)
    }

    func testTheIdleTimerIsRestoredWhenTheTaskIsCancelled() async throws {
        let files = files!
        let idleTimer = FakeIdleTimer(disabled: false)
        let resident = loop(runner: FakeRunner(), idleTimer: idleTimer)
        let serving = Task { await resident.run() }
        let idle = await waitUntil { files.readHeartbeat()?.state == .idle }

        serving.cancel()
        await serving.value

        XCTAssertTrue(idle)
        XCTAssertEqual(idleTimer.settings, [true, false])
    }

    func testTheIdleTimerIsDisabledAgainWhenTheSystemTurnsItBackOn() async throws {
        try enqueue("net-a")
        let files = files!
        let idleTimer = FakeIdleTimer(disabled: false)
        let disabledAgain = Locked(false)
        let runner = FakeRunner { _ in
            idleTimer.systemTurnsItBackOn()
            let again = await waitUntil { idleTimer.disabled }
            disabledAgain.mutate { $0 = again }
            files.requestStop()
        }

        await runToEnd(loop(runner: runner, idleTimer: idleTimer))

        XCTAssertTrue(disabledAgain.value)
    }

    func testTheHeartbeatSaysTheIdleTimerIsDisabledWhileResidentAndNotOnceStopped() async throws {
        try enqueue("net-a")
        let files = files!
        let duringRun = Locked<Bool?>(nil)
        let runner = FakeRunner { _ in
            duringRun.mutate { $0 = files.readHeartbeat()?.idleTimerDisabled }
            files.requestStop()
        }

        await runToEnd(loop(runner: runner, idleTimer: FakeIdleTimer(disabled: false)))

        XCTAssertEqual(duringRun.value, true)
        XCTAssertEqual(files.readHeartbeat()?.idleTimerDisabled, false)
    }
}
