@testable import BenchCore
import XCTest

/// The resident loop's inbox: what it runs, in which order, what it writes back, and when it ends.
final class ResidentLoopTests: ResidentTestCase {
    func testServesWaitingEntriesInNameOrder() async throws {
        for run in ["net-b", "net-c", "net-a"] {
            try enqueue(run)
        }
        let files = files!
        let runner = FakeRunner { directory in
            if directory.lastPathComponent == "net-c" {
                files.requestStop()
            }
        }

        await runToEnd(loop(runner: runner))

        XCTAssertEqual(runner.runs, ["net-a", "net-b", "net-c"])
    }

    func testAnswersAnEntryWithAResultInItsRunDirectoryAndRemovesTheEntry() async throws {
        try enqueue("net-a")
        let files = files!
        let runner = FakeRunner { _ in files.requestStop() }

        await runToEnd(loop(runner: runner))

        XCTAssertEqual(try ResultFile.read(from: runDirectory("net-a")), FakeRunner.result(runId: "net-a"))
        XCTAssertEqual(try inboxNames(), [])
    }

    func testServesAnEntryEnqueuedWhileItWaits() async throws {
        let files = files!
        let runner = FakeRunner { _ in files.requestStop() }
        let resident = loop(runner: runner)
        let serving = Task { await resident.run() }
        let idle = await waitUntil { files.readHeartbeat()?.state == .idle }

        try enqueue("net-a")
        await serving.value

        XCTAssertTrue(idle)
        XCTAssertEqual(runner.runs, ["net-a"])
    }

    func testLeavesHiddenAndNonJSONFilesInTheInboxAlone() async throws {
        try enqueue("net-a")
        try enqueueEntry("notes.txt", contents: "not an entry")
        try Data("{\"run_dir\":".utf8).write(to: files.entry(".net-b.json.tmp"))
        try Data("{\"run_dir\": \"runs/net-c\"}".utf8).write(to: files.entry(".net-c.json"))
        let files = files!
        let runner = FakeRunner { _ in files.requestStop() }

        await runToEnd(loop(runner: runner))

        XCTAssertEqual(runner.runs, ["net-a"])
        XCTAssertEqual(try inboxNames(), [".net-b.json.tmp", ".net-c.json", "notes.txt"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: files.rejected.path))
    }

    func testRejectsAnEntryThatIsNotJSONAndServesTheNext() async throws {
        try enqueueEntry("net-a.json", contents: "{\"run_dir\": \"runs/net-a\"")
        try enqueue("net-b")
        let files = files!
        let runner = FakeRunner { _ in files.requestStop() }

        await runToEnd(loop(runner: runner))

        XCTAssertEqual(try rejection(of: "net-a.json"), ["entry": "net-a.json", "error": "inbox/net-a.json is not JSON"])
        XCTAssertEqual(runner.runs, ["net-b"])
        XCTAssertEqual(try inboxNames(), [])
    }

    func testRejectsARunDirectoryOutsideDocumentsWithoutRunningIt() async throws {
        try enqueueEntry("net-a.json", contents: "{\"run_dir\": \"../net-a\"}")
        try enqueue("net-b")
        let files = files!
        let runner = FakeRunner { _ in files.requestStop() }

        await runToEnd(loop(runner: runner))

        XCTAssertEqual(try rejection(of: "net-a.json"), [
            "entry": "net-a.json",
            "error": "the run directory '../net-a' is not a relative path of folder names inside Documents (like runs/N)",
        ])
        XCTAssertEqual(runner.runs, ["net-b"])
    }

    func testRejectsAnEntryWhoseResultCannotBeWritten() async throws {
        try FileManager.default.createDirectory(at: runDirectory("net-a").deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("a file, not a folder".utf8).write(to: runDirectory("net-a"))
        try enqueueEntry("net-a.json", contents: "{\"run_dir\": \"runs/net-a\"}")
        let files = files!
        let runner = FakeRunner { _ in files.requestStop() }

        await runToEnd(loop(runner: runner))

        let error = try XCTUnwrap(try rejection(of: "net-a.json")["error"])
        XCTAssertTrue(error.hasPrefix("result.json could not be written into runs/net-a: "), error)
        XCTAssertEqual(try inboxNames(), [])
    }

    func testAnswersAMissingRunDirectoryWithAnErrorResult() async throws {
        try enqueueEntry("net-a.json", contents: "{\"run_dir\": \"runs/net-a\"}")
        let benchmark = Benchmark(
            device: DeviceFacts(platform: "ios", model: "iPhone15,2", os: "iOS 17.4.1", cores: 6),
            runtimeVersion: "17.4.1",
            prepareModel: { _, _, _ in throw FakeFailure(errorDescription: "no model in this test") }
        )

        await runToEnd(loop(runner: StoppingBenchmark(benchmark: benchmark, files: files)))

        let result = try ResultFile.read(from: runDirectory("net-a"))
        XCTAssertEqual(result.status, .error)
        XCTAssertEqual(result.error, "BenchError: the run directory \(runDirectory("net-a").path) does not exist")
    }

    func testAStopFileEndsTheLoopAfterTheCurrentRun() async throws {
        try enqueue("net-a")
        try enqueue("net-b")
        let files = files!
        let runner = FakeRunner { _ in files.requestStop() }

        await runToEnd(loop(runner: runner))

        XCTAssertEqual(runner.runs, ["net-a"])
        XCTAssertEqual(try inboxNames(), ["net-b.json"])
    }

    func testRemovesTheStopFileWhenItStops() async throws {
        try enqueue("net-a")
        let files = files!

        await runToEnd(loop(runner: FakeRunner { _ in files.requestStop() }))

        XCTAssertFalse(FileManager.default.fileExists(atPath: files.stop.path))
    }

    func testAStopFileLeftFromAnEarlierSessionDoesNotEndANewLoop() async throws {
        try FileManager.default.createDirectory(at: files.inbox, withIntermediateDirectories: true)
        files.requestStop()
        try enqueue("net-a")
        let files = files!
        let runner = FakeRunner { _ in files.requestStop() }

        await runToEnd(loop(runner: runner))

        XCTAssertEqual(runner.runs, ["net-a"])
    }

    func testCancellingTheTaskEndsTheLoop() async throws {
        let files = files!
        let resident = loop(runner: FakeRunner())
        let serving = Task { await resident.run() }
        let idle = await waitUntil { files.readHeartbeat()?.state == .idle }

        serving.cancel()
        await serving.value

        XCTAssertTrue(idle)
        XCTAssertEqual(files.readHeartbeat()?.state, .stopped)
    }

    func testCreatesTheInboxForTheComputerToWriteInto() async throws {
        let files = files!
        let resident = loop(runner: FakeRunner())
        let serving = Task { await resident.run() }
        let idle = await waitUntil { files.readHeartbeat()?.state == .idle }

        let created = isDirectory(files.inbox)
        serving.cancel()
        await serving.value

        XCTAssertTrue(idle)
        XCTAssertTrue(created)
    }

    func testWaitsThePollIntervalBetweenLooksIntoAnEmptyInbox() async throws {
        let files = files!
        let clock = FakeClock(now: Self.start)
        let resident = loop(runner: FakeRunner(), clock: clock)
        let serving = Task { await resident.run() }

        let polled = await waitUntil { clock.sleeps.filter { $0 == .milliseconds(500) }.count >= 3 }
        files.requestStop()
        await serving.value

        XCTAssertTrue(polled, "waits asked for: \(clock.sleeps.prefix(10))")
    }
}

/// The real `Benchmark` as the loop's runner, with the stop file written as its run starts.
private struct StoppingBenchmark: RunDirectoryRunner {
    let benchmark: Benchmark
    let files: ResidentFiles

    func run(in runDirectory: URL) async -> BenchResult {
        files.requestStop()
        return await benchmark.run(in: runDirectory)
    }
}
