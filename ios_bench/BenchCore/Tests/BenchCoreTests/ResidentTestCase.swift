import BenchCore
import Foundation
import XCTest

/// A fresh Documents folder per test, and the moves of the computer's side of the protocol.
class ResidentTestCase: XCTestCase {
    /// 2026-11-22T09:17:54Z.
    static let start = Date(timeIntervalSince1970: 1_795_339_074)

    var files: ResidentFiles!

    override func setUpWithError() throws {
        let documents = FileManager.default.temporaryDirectory.appendingPathComponent("documents-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: documents, withIntermediateDirectories: true)
        files = ResidentFiles(documents: documents)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: files.documents)
    }

    /// Pushes an empty run directory `runs/<run>` and enqueues it as `inbox/<run>.json`, written
    /// under a hidden name first and renamed into place, as the computer does.
    func enqueue(_ run: String) throws {
        try FileManager.default.createDirectory(at: runDirectory(run), withIntermediateDirectories: true)
        try enqueueEntry("\(run).json", contents: "{\"run_dir\": \"runs/\(run)\"}")
    }

    /// Writes an inbox entry as it is, valid or not.
    func enqueueEntry(_ name: String, contents: String) throws {
        try FileManager.default.createDirectory(at: files.inbox, withIntermediateDirectories: true)
        let temporary = files.entry(".\(name).tmp")
        try Data(contents.utf8).write(to: temporary)
        try FileManager.default.moveItem(at: temporary, to: files.entry(name))
    }

    func runDirectory(_ run: String) -> URL {
        files.documents.appendingPathComponent("runs").appendingPathComponent(run)
    }

    func inboxNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: files.inbox.path).sorted()
    }

    func rejection(of entry: String) throws -> [String: String] {
        let data = try Data(contentsOf: files.rejection(of: entry))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: String])
    }

    func loop(
        runner: any RunDirectoryRunner,
        idleTimer: FakeIdleTimer = FakeIdleTimer(),
        clock: FakeClock = FakeClock(now: ResidentTestCase.start),
        thermalState: @escaping @Sendable () -> ThermalState? = { .nominal },
        report: @escaping @Sendable (ResidentHeartbeat) async -> Void = { _ in }
    ) -> ResidentLoop {
        ResidentLoop(
            documents: files.documents, runner: runner, idleTimer: idleTimer, clock: clock,
            thermalState: thermalState, report: report
        )
    }

    /// Runs the loop to its end; fails the test (and cancels the loop) if it has not stopped in time.
    func runToEnd(_ loop: ResidentLoop, timeout: Duration = .seconds(30), file: StaticString = #filePath, line: UInt = #line) async {
        let stopped = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await loop.run()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        XCTAssertTrue(stopped, "the resident loop did not stop within \(timeout)", file: file, line: line)
    }
}

extension ResidentFiles {
    /// What the computer does to end the loop.
    func requestStop() {
        precondition(FileManager.default.createFile(atPath: stop.path, contents: Data()), "cannot write \(stop.path)")
    }

    /// The heartbeat as last written, or nil before the first.
    func readHeartbeat() -> ResidentHeartbeat? {
        guard let data = try? Data(contentsOf: heartbeat) else {
            return nil
        }
        return try? JSONDecoder().decode(ResidentHeartbeat.self, from: data)
    }
}
