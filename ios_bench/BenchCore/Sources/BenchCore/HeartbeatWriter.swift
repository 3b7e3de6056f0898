import Foundation

/// Keeps `resident.json` for one resident loop, and hands every heartbeat it writes to `written`.
///
/// An actor, because two tasks write it (the periodic beat and every state change): each write
/// takes the next `beat`, and the number, the file and the hand-over change together, with no
/// suspension between them that would let another write slip in and leave an older beat on disk
/// or show an older state on the screen.
actor HeartbeatWriter {
    private let url: URL
    private let clock: any ResidentClock
    private let thermalState: @Sendable () -> ThermalState?
    private let idleTimer: any IdleTimerControl
    private let written: AsyncStream<ResidentHeartbeat>.Continuation
    private var current: ResidentHeartbeat

    init(
        url: URL,
        clock: any ResidentClock,
        thermalState: @escaping @Sendable () -> ThermalState?,
        idleTimer: any IdleTimerControl,
        written: AsyncStream<ResidentHeartbeat>.Continuation
    ) {
        self.url = url
        self.clock = clock
        self.thermalState = thermalState
        self.idleTimer = idleTimer
        self.written = written
        let startedAt = timestamp(clock.now())
        current = ResidentHeartbeat(
            beat: 0, state: .idle, run: nil, completed: 0, thermalState: nil,
            idleTimerDisabled: false, startedAt: startedAt, updatedAt: startedAt
        )
    }

    /// A state change, written at once. `completedOneMore` counts an entry answered with a result.
    func record(_ state: ResidentHeartbeat.State, run: String? = nil, completedOneMore: Bool = false) async {
        await write { heartbeat in
            heartbeat.state = state
            heartbeat.run = run
            heartbeat.completed += completedOneMore ? 1 : 0
        }
    }

    /// The same state again, with the next beat and fresh readings.
    func beat() async {
        await write { _ in }
    }

    private func write(_ change: (inout ResidentHeartbeat) -> Void) async {
        let idleTimerDisabled = await idleTimer.isDisabled()
        change(&current)
        current.beat += 1
        current.thermalState = thermalState()
        current.idleTimerDisabled = idleTimerDisabled
        current.updatedAt = timestamp(clock.now())
        // A heartbeat that cannot be written is one the computer sees stop: it reports the phone
        // as gone, which is the truth the loop could tell it anyway.
        try? JSONFile.write(current, to: url)
        written.yield(current)
    }
}
