@testable import BenchCore
import XCTest

final class BenchmarkMemoryTests: XCTestCase {
    private var runDirectory: URL!
    /// What each golden model holds once loaded, and the scratch its first inference takes and frees: `result_memory.json`'s numbers.
    private let loads = ["net-a": 4_718_592, "net-b": 2_965_504]
    private let scratch = ["net-a": 6_520_832, "net-b": 5_677_056]

    override func setUpWithError() throws {
        runDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        let request = try Golden.request("request_coreml.json") { request in
            var models = request["models"] as? [[String: Any]] ?? []
            models.append(["id": "net-b", "file": "models/net-b.mlpackage", "input_shape": [1, 3, 256, 256], "input_name": "x"])
            request["models"] = models
            request["warmup"] = ["runs": 0, "seconds": 0]
            request["measure"] = ["runs": 2, "seconds": 0]
            request["cooldown_s"] = 0
        }
        try request.write(to: runDirectory.appendingPathComponent("request.json"))
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: runDirectory)
    }

    func testEachModelsLoadAndPeakAreTheBytesItAddsAboveTheLevelBeforeItsLoad() async throws {
        let result = await run(FakeMemory())

        XCTAssertEqual(result.status, .ok, result.error ?? "")
        XCTAssertEqual(result.models.map { $0.memory?.loadBytes }, [4_718_592, 2_965_504])
        XCTAssertEqual(result.models.map { $0.memory?.peakBytes }, [11_239_424, 8_642_560])
        XCTAssertEqual(
            result.models.first?.memory?.method,
            "fake: resident and high-water mark, the peak reset through the fake reset before each model's load"
        )
    }

    func testWithoutAProbeTheResultHasNoMemory() async throws {
        let result = await run(nil)

        XCTAssertEqual(result.status, .ok, result.error ?? "")
        XCTAssertEqual(result.models.map(\.memory), [nil, nil])
        try ResultFile.write(result, into: runDirectory)
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: runDirectory.appendingPathComponent("result.json"))) as? [String: Any])
        let models = try XCTUnwrap(written["models"] as? [[String: Any]])
        XCTAssertEqual(models.filter { $0["memory"] != nil }.count, 0)
    }

    func testMemoryIsReadAroundTheLoadAndTheFirstInferenceThePeakResetBeforeTheLevelIsRead() async throws {
        let memory = FakeMemory()

        _ = await run(memory)

        let calls = memory.log.calls
        XCTAssertEqual(
            Array(calls.prefix(through: try XCTUnwrap(calls.firstIndex(of: "peak")))),
            ["reset", "resident", "load net-a", "allocate 4718592", "resident",
             "first prediction net-a", "allocate 6520832", "free 6520832", "resident", "peak"]
        )
    }

    func testAPeakThatCannotBeResetIsTheHighWaterMarkWhenTheModelRaisedIt() async throws {
        let memory = FakeMemory(highWater: 101 << 20, method: TaskMemoryProbeWords.method, peakReset: nil, resetWorks: false)

        let result = await run(memory)

        XCTAssertEqual(result.models.first?.memory?.peakBytes, 11_239_424)
        XCTAssertEqual(
            result.models.first?.memory?.method,
            "ios: phys_footprint and ledger_phys_footprint_peak of task_info(TASK_VM_INFO); the peak cannot be reset, "
                + "so it is the lifetime high-water mark, which this model's load and first inference raised"
        )
    }

    func testAPeakThatCannotBeResetAndWasNotRaisedIsTheLevelAfterTheFirstInferenceALowerBound() async throws {
        let memory = FakeMemory(highWater: 1 << 30, peakReset: nil, resetWorks: false)

        let result = await run(memory)

        XCTAssertEqual(result.models.first?.memory, try ModelMemory(
            loadBytes: 4_718_592, peakBytes: 4_718_592,
            method: "fake: resident and high-water mark; the peak cannot be reset, so it is the level after the first inference (a lower bound)"
        ))
    }

    func testAProbeWithoutAPeakCounterGivesTheLevelAfterTheFirstInference() async throws {
        let memory = FakeMemory(method: "fake: footprint", peakReset: "the fake reset", resetWorks: false, hasPeak: false)

        let result = await run(memory)

        XCTAssertEqual(result.models.last?.memory?.peakBytes, 2_965_504)
        XCTAssertEqual(
            result.models.last?.memory?.method,
            "fake: footprint; the fake reset did not reset the peak, so it is the level after the first inference (a lower bound)"
        )
    }

    func testMemoryTheSystemReclaimsDuringALoadNeverMakesItsBytesNegative() async throws {
        let result = await run(FakeMemory(), freedAtLoad: 50 << 20)

        let memory = try XCTUnwrap(result.models.first?.memory)
        XCTAssertEqual(memory.loadBytes, 0)
        XCTAssertEqual(memory.peakBytes, 0)
    }

    func testAProbeThatFailsLeavesTheMemoryOutAndTheRunOk() async throws {
        let memory = FakeMemory()
        memory.callsBeforeFailure = 3

        let result = await run(memory)

        XCTAssertEqual(result.status, .ok, result.error ?? "")
        XCTAssertEqual(result.models.map(\.memory), [nil, nil])
        XCTAssertEqual(result.models.map(\.samplesMs.count), [2, 2])
    }

    private func run(_ memory: FakeMemory?, freedAtLoad: Int = 0) async -> BenchResult {
        let allocations = memory ?? FakeMemory()
        let loads = self.loads
        let scratch = self.scratch
        let benchmark = Benchmark(
            device: DeviceFacts(platform: "ios", model: "iPhone15,2", os: "iOS 17.4.1", cores: 6),
            runtimeVersion: "17.4.1",
            thermalState: { nil },
            memoryProbe: memory,
            prepareModel: { spec, _, _ in
                AllocatingLoadable(
                    name: spec.id, memory: allocations,
                    loadBytes: loads[spec.id] ?? 0, scratchBytes: scratch[spec.id] ?? 0, freedAtLoad: freedAtLoad
                )
            }
        )
        return await benchmark.run(in: runDirectory)
    }
}

/// The words of the iOS probe, which only Apple platforms build: the tests here check the sentences
/// the benchmark makes of them.
enum TaskMemoryProbeWords {
    static let method = "ios: phys_footprint and ledger_phys_footprint_peak of task_info(TASK_VM_INFO)"
}
