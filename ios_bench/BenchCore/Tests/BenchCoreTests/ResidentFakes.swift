@testable import BenchCore
import Foundation

/// A wall clock the test sets by hand. Its waits last a millisecond whatever they ask for (so a
/// loop that polls every 0.5 s polls every millisecond here), and it remembers what they asked.
final class FakeClock: ResidentClock {
    private struct State {
        var now: Date
        var sleeps: [Duration] = []
    }

    private let state: Locked<State>

    init(now: Date) {
        state = Locked(State(now: now))
    }

    /// Every wait asked for, in order.
    var sleeps: [Duration] { state.value.sleeps }

    func set(now: Date) {
        state.mutate { $0.now = now }
    }

    func now() -> Date {
        state.value.now
    }

    func sleep(for duration: Duration) async throws {
        state.mutate { $0.sleeps.append(duration) }
        try await Task.sleep(for: .milliseconds(1))
    }
}

/// The phone's Auto-Lock as a flag, with every setting the loop made.
final class FakeIdleTimer: IdleTimerControl {
    private struct State {
        var disabled: Bool
        var settings: [Bool] = []
    }

    private let state: Locked<State>

    init(disabled: Bool = false) {
        state = Locked(State(disabled: disabled))
    }

    var disabled: Bool { state.value.disabled }

    /// The values passed to `setDisabled`, in order.
    var settings: [Bool] { state.value.settings }

    /// What iOS might do behind the app's back.
    func systemTurnsItBackOn() {
        state.mutate { $0.disabled = false }
    }

    func isDisabled() async -> Bool {
        disabled
    }

    func setDisabled(_ disabled: Bool) async {
        state.mutate { state in
            state.disabled = disabled
            state.settings.append(disabled)
        }
    }
}

/// Answers every run directory with an ok result whose run id is the folder's name, and lets the
/// test act while a run is in progress (write the stop file, read the heartbeat, wait).
final class FakeRunner: RunDirectoryRunner {
    private let served = Locked<[String]>([])
    private let during: @Sendable (URL) async -> Void

    init(during: @escaping @Sendable (URL) async -> Void = { _ in }) {
        self.during = during
    }

    /// The names of the run directories served, in order.
    var runs: [String] { served.value }

    func run(in runDirectory: URL) async -> BenchResult {
        served.mutate { $0.append(runDirectory.lastPathComponent) }
        await during(runDirectory)
        return Self.result(runId: runDirectory.lastPathComponent)
    }

    static func result(runId: String) -> BenchResult {
        let samples = [1.5, 1.25, 2.0]
        return BenchResult(
            schema: BenchResult.schemaName, version: 1, runId: runId, status: .ok, error: nil,
            device: DeviceFacts(platform: "ios", model: "iPhone15,2", os: "iOS 17.4.1", cores: 6),
            runtime: RuntimeFacts(name: "coreml", version: "17.4.1", threads: 0, computeUnits: "all"),
            startedAt: "2026-11-22T09:17:54Z", finishedAt: "2026-11-22T09:18:08Z", rounds: 3,
            models: [ModelResult(
                id: "net-a", loadMs: 12.5, firstInferenceMs: 15.25, samplesMs: samples,
                summary: summarize(samples), computePlan: nil
            )]
        )
    }
}

/// Waits (for real) until `condition` holds; false if it did not within `timeout`.
func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while !condition() {
        guard clock.now < deadline, (try? await Task.sleep(for: .milliseconds(2))) != nil else {
            return false
        }
    }
    return true
}
