import Foundation

/// The app's resident mode: it stays in front between sessions and serves each run directory the
/// computer enqueues in its Documents, so that no relaunch is needed (a relaunch fails on a phone
/// that locked with a passcode during the cool-down between sessions).
///
/// The protocol, file by file, is in ios_bench/README.md ("Resident mode"). Everything it does
/// goes through what it is given (Documents, the runner, the clock, the thermal state, the idle
/// timer), so the tests drive it on Linux with fakes.
public struct ResidentLoop: Sendable {
    public let files: ResidentFiles
    public let runner: any RunDirectoryRunner
    public let clock: any ResidentClock
    public let thermalState: @Sendable () -> ThermalState?
    public let idleTimer: any IdleTimerControl
    public let timing: ResidentTiming
    /// Told every heartbeat, in the order written, for the screen.
    public let report: @Sendable (ResidentHeartbeat) async -> Void

    public init(
        documents: URL,
        runner: any RunDirectoryRunner,
        idleTimer: any IdleTimerControl,
        clock: any ResidentClock = SystemClock(),
        thermalState: @escaping @Sendable () -> ThermalState? = ThermalState.current,
        timing: ResidentTiming = ResidentTiming(),
        report: @escaping @Sendable (ResidentHeartbeat) async -> Void = { _ in }
    ) {
        files = ResidentFiles(documents: documents)
        self.runner = runner
        self.idleTimer = idleTimer
        self.clock = clock
        self.thermalState = thermalState
        self.timing = timing
        self.report = report
    }

    /// Serves the inbox until `inbox/stop` appears (after the run in progress) or the task is
    /// cancelled. Keeps the idle timer disabled meanwhile and puts it back as it was at the end.
    /// Never throws: nothing the computer puts into Documents may end the loop.
    public func run() async {
        let (heartbeats, written) = AsyncStream.makeStream(of: ResidentHeartbeat.self)
        let heartbeat = HeartbeatWriter(
            url: files.heartbeat, clock: clock, thermalState: thermalState, idleTimer: idleTimer, written: written
        )
        await withTaskGroup(of: Void.self) { group in
            // One at a time and in the order written, so the screen never goes back to an older state.
            group.addTask {
                for await shown in heartbeats {
                    await report(shown)
                }
            }
            await serveUntilStopped(heartbeat)
            written.finish()
        }
    }

    private func serveUntilStopped(_ heartbeat: HeartbeatWriter) async {
        try? FileManager.default.createDirectory(at: files.inbox, withIntermediateDirectories: true)
        // A stop file from a session that ended before the loop saw it would end this one at once.
        try? FileManager.default.removeItem(at: files.stop)
        let idleTimerWasDisabled = await idleTimer.isDisabled()
        await idleTimer.setDisabled(true)
        await heartbeat.record(.idle)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await beatPeriodically(heartbeat) }
            await serveInbox(heartbeat)
            group.cancelAll()
        }
        await idleTimer.setDisabled(idleTimerWasDisabled)
        await heartbeat.record(.stopped)
        try? FileManager.default.removeItem(at: files.stop)
    }

    private func serveInbox(_ heartbeat: HeartbeatWriter) async {
        while !Task.isCancelled, !FileManager.default.fileExists(atPath: files.stop.path) {
            guard let name = InboxEntry.waiting(in: files.inbox).first else {
                do {
                    try await clock.sleep(for: timing.pollInterval)
                } catch {
                    return
                }
                continue
            }
            await serve(name, heartbeat)
        }
    }

    /// Runs one entry and removes it: answered with `result.json` in its run directory, or, where
    /// that cannot be, with `rejected/<entry>` saying why.
    private func serve(_ name: String, _ heartbeat: HeartbeatWriter) async {
        let entry: InboxEntry
        do {
            entry = try InboxEntry.read(files.entry(name))
        } catch {
            reject(name, because: error.localizedDescription)
            return
        }
        await heartbeat.record(.running, run: entry.run)
        let outcome = await RunDirectoryJob(documents: files.documents, runner: runner).perform(entry.runDirectory)
        switch outcome {
        case .answered:
            try? FileManager.default.removeItem(at: files.entry(name))
            await heartbeat.record(.idle, completedOneMore: true)
        case let .refused(reason):
            reject(name, because: reason)
            await heartbeat.record(.idle)
        }
    }

    private func reject(_ name: String, because reason: String) {
        try? FileManager.default.createDirectory(at: files.rejected, withIntermediateDirectories: true)
        try? JSONFile.write(Rejection(entry: name, error: reason), to: files.rejection(of: name))
        try? FileManager.default.removeItem(at: files.entry(name))
    }

    private func beatPeriodically(_ heartbeat: HeartbeatWriter) async {
        while true {
            do {
                try await clock.sleep(for: timing.heartbeatInterval)
            } catch {
                return
            }
            guard !Task.isCancelled else {
                return
            }
            // iOS may turn the idle timer back on behind the app's back; while resident, it stays off.
            if await !idleTimer.isDisabled() {
                await idleTimer.setDisabled(true)
            }
            await heartbeat.beat()
        }
    }
}

/// `rejected/<entry>`: why an inbox entry got no `result.json`.
struct Rejection: Codable, Equatable {
    /// The entry's file name, `<run>.json`.
    var entry: String
    var error: String
}
