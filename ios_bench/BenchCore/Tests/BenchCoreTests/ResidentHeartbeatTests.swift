@testable import BenchCore
import XCTest

/// `resident.json`: its shape (the golden document) and what the loop writes into it, when.
final class ResidentHeartbeatTests: ResidentTestCase {
    private let golden = ResidentHeartbeat(
        beat: 7, state: .idle, run: nil, completed: 2, thermalState: .nominal,
        idleTimerDisabled: true, startedAt: "2026-11-22T09:17:54Z", updatedAt: "2026-11-22T09:19:06Z"
    )

    func testTheGoldenHeartbeatReads() throws {
        let read = try JSONDecoder().decode(ResidentHeartbeat.self, from: Golden.data("resident_idle.json"))

        XCTAssertEqual(read, golden)
    }

    func testAHeartbeatIsWrittenAsTheGoldenDocument() throws {
        let written = try JSONEncoder().encode(golden)

        XCTAssertEqual(try Golden.canonical(written), try Golden.canonical(Golden.data("resident_idle.json")))
    }

    func testNoRunAndNoThermalStateAreWrittenAsNullNotLeftOut() throws {
        var heartbeat = golden
        heartbeat.thermalState = nil

        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(heartbeat)) as? [String: Any])

        XCTAssertTrue(object["run"] is NSNull, "\(object["run"] ?? "absent")")
        XCTAssertTrue(object["thermal_state"] is NSNull, "\(object["thermal_state"] ?? "absent")")
    }

    func testTheFirstHeartbeatIsBeatOneIdleAtTheStart() async throws {
        let reports = Locked<[ResidentHeartbeat]>([])
        let files = files!

        await runToEnd(loop(runner: FakeRunner(), report: { heartbeat in
            reports.mutate { $0.append(heartbeat) }
            files.requestStop()
        }))

        XCTAssertEqual(reports.value.first, ResidentHeartbeat(
            beat: 1, state: .idle, run: nil, completed: 0, thermalState: .nominal,
            idleTimerDisabled: true, startedAt: "2026-11-22T09:17:54Z", updatedAt: "2026-11-22T09:17:54Z"
        ))
    }

    func testEveryWriteAddsOneToBeat() async throws {
        try enqueue("net-a")
        try enqueue("net-b")
        let reports = Locked<[ResidentHeartbeat]>([])
        let files = files!
        let runner = FakeRunner { directory in
            if directory.lastPathComponent == "net-b" {
                files.requestStop()
            }
        }

        await runToEnd(loop(runner: runner, report: { heartbeat in reports.mutate { $0.append(heartbeat) } }))

        let beats = reports.value.map(\.beat)
        XCTAssertEqual(beats, Array(1...beats.count))
        XCTAssertEqual(files.readHeartbeat()?.beat, beats.count)
    }

    func testDuringARunItSaysRunningAndNamesTheRun() async throws {
        try enqueue("net-a")
        let files = files!
        let seen = Locked<ResidentHeartbeat?>(nil)
        let runner = FakeRunner { _ in
            seen.mutate { $0 = files.readHeartbeat() }
            files.requestStop()
        }

        await runToEnd(loop(runner: runner))

        XCTAssertEqual(seen.value?.state, .running)
        XCTAssertEqual(seen.value?.run, "net-a")
    }

    func testItKeepsBeatingDuringALongRun() async throws {
        try enqueue("net-a")
        let files = files!
        let beatOn = Locked(false)
        let runner = FakeRunner { _ in
            let first = files.readHeartbeat()?.beat ?? 0
            let moved = await waitUntil { (files.readHeartbeat()?.beat ?? 0) >= first + 3 }
            beatOn.mutate { $0 = moved }
            files.requestStop()
        }

        await runToEnd(loop(runner: runner))

        XCTAssertTrue(beatOn.value, "the beat did not move while the run lasted")
    }

    func testItKeepsBeatingWhileIdle() async throws {
        let files = files!
        let resident = loop(runner: FakeRunner())
        let serving = Task { await resident.run() }

        let beating = await waitUntil { (files.readHeartbeat()?.beat ?? 0) >= 4 }
        files.requestStop()
        await serving.value

        XCTAssertTrue(beating)
        XCTAssertEqual(files.readHeartbeat()?.state, .stopped)
    }

    func testBeatsWaitTheHeartbeatInterval() async throws {
        let files = files!
        let clock = FakeClock(now: Self.start)
        let resident = loop(runner: FakeRunner(), clock: clock)
        let serving = Task { await resident.run() }

        let waited = await waitUntil { clock.sleeps.contains(.seconds(2)) }
        files.requestStop()
        await serving.value

        XCTAssertTrue(waited, "waits asked for: \(Set(clock.sleeps))")
    }

    func testTheLastHeartbeatIsStoppedWithTheCompletedCountAndNoRun() async throws {
        try enqueue("net-a")
        try enqueue("net-b")
        let files = files!
        let runner = FakeRunner { directory in
            if directory.lastPathComponent == "net-b" {
                files.requestStop()
            }
        }

        await runToEnd(loop(runner: runner))

        let last = try XCTUnwrap(files.readHeartbeat())
        XCTAssertEqual(last.state, .stopped)
        XCTAssertEqual(last.completed, 2)
        XCTAssertNil(last.run)
    }

    func testARejectedEntryDoesNotCountAsCompleted() async throws {
        try enqueueEntry("net-a.json", contents: "[]")
        try enqueue("net-b")
        let files = files!

        await runToEnd(loop(runner: FakeRunner { _ in files.requestStop() }))

        XCTAssertEqual(files.readHeartbeat()?.completed, 1)
    }

    func testItReportsTheThermalStateOfItsSource() async throws {
        try enqueue("net-a")
        let files = files!

        await runToEnd(loop(runner: FakeRunner { _ in files.requestStop() }, thermalState: { .serious }))

        XCTAssertEqual(files.readHeartbeat()?.thermalState, .serious)
    }

    func testTheThermalStateIsNullWhereTheSystemReportsNone() async throws {
        try enqueue("net-a")
        let files = files!

        await runToEnd(loop(runner: FakeRunner { _ in files.requestStop() }, thermalState: { nil }))

        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: files.heartbeat)) as? [String: Any])
        XCTAssertTrue(object["thermal_state"] is NSNull, "\(object["thermal_state"] ?? "absent")")
    }

    func testItsTimesComeFromTheClock() async throws {
        try enqueue("net-a")
        let files = files!
        let clock = FakeClock(now: Self.start)
        let runner = FakeRunner { _ in
            clock.set(now: Self.start.addingTimeInterval(90))
            files.requestStop()
        }

        await runToEnd(loop(runner: runner, clock: clock))

        let last = try XCTUnwrap(files.readHeartbeat())
        XCTAssertEqual(last.startedAt, "2026-11-22T09:17:54Z")
        XCTAssertEqual(last.updatedAt, "2026-11-22T09:19:24Z")
    }
}
