import Foundation

/// Time for the resident loop: the wall clock for the heartbeat's times, and its waits. The app
/// passes `SystemClock`; the tests a clock they set by hand.
public protocol ResidentClock: Sendable {
    func now() -> Date
    func sleep(for duration: Duration) async throws
}

public struct SystemClock: ResidentClock {
    public init() {}

    public func now() -> Date {
        Date()
    }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

/// The phone's Auto-Lock (`UIApplication.isIdleTimerDisabled` in the app): with a passcode set, a
/// phone that locks between sessions cannot be driven again until someone unlocks it.
public protocol IdleTimerControl: Sendable {
    func isDisabled() async -> Bool
    func setDisabled(_ disabled: Bool) async
}

/// How often the resident loop looks into the inbox and rewrites its heartbeat.
public struct ResidentTiming: Sendable, Equatable {
    public var pollInterval: Duration
    public var heartbeatInterval: Duration

    /// A new entry starts within half a second; a heartbeat every 2 s lets a computer that polls
    /// every few seconds see `beat` move, at the cost of one small file write (on another core)
    /// every 2 s during a measurement.
    public init(pollInterval: Duration = .milliseconds(500), heartbeatInterval: Duration = .seconds(2)) {
        self.pollInterval = pollInterval
        self.heartbeatInterval = heartbeatInterval
    }
}
