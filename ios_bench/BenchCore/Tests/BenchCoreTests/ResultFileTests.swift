@testable import BenchCore
import XCTest

final class ResultFileTests: XCTestCase {
    private var runDirectory: URL!

    override func setUpWithError() throws {
        runDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: runDirectory)
    }

    func testTheGoldenResultsParse() throws {
        let ok = try JSONDecoder().decode(BenchResult.self, from: Golden.data("result_ok.json"))
        let error = try JSONDecoder().decode(BenchResult.self, from: Golden.data("result_error.json"))

        XCTAssertEqual(ok.status, .ok)
        XCTAssertEqual(ok.rounds, 10)
        XCTAssertEqual(error.status, .error)
        XCTAssertEqual(error.error, "model net-b failed to load: invalid program header")
    }

    func testTheGoldenResultsReadEachModelsWarmLoad() throws {
        let ok = try JSONDecoder().decode(BenchResult.self, from: Golden.data("result_ok.json"))

        XCTAssertEqual(ok.models.map(\.warmLoadMs), [4.75, 5.5])
    }

    func testAResultWithoutAWarmLoadReadsAsNoneAndIsWrittenWithoutIt() throws {
        var ok = try JSONDecoder().decode(BenchResult.self, from: Golden.data("result_ok.json"))
        ok.models = ok.models.map { var model = $0; model.warmLoadMs = nil; return model }

        try ResultFile.write(ok, into: runDirectory)

        let models = try XCTUnwrap(try writtenJSON()["models"] as? [[String: Any]])
        XCTAssertEqual(models.map { $0["warm_load_ms"] == nil }, [true, true])
    }

    func testResultsWithoutRuntimeLibrariesReadAsHavingNone() throws {
        let ok = try JSONDecoder().decode(BenchResult.self, from: Golden.data("result_ok.json"))

        XCTAssertNil(ok.runtime.libraries)
    }

    func testTheGoldenCoreMLResultReadsItsRuntimeLibraries() throws {
        let result = try JSONDecoder().decode(BenchResult.self, from: Golden.data("result_coreml.json"))

        XCTAssertEqual(result.runtime.libraries, ["coreml": "3500.32.1", "ios": "17.4.1"])
    }

    func testTheGoldenCoreMLResultIsWrittenBackAsItWas() throws {
        let golden = try Golden.data("result_coreml.json")

        try ResultFile.write(JSONDecoder().decode(BenchResult.self, from: golden), into: runDirectory)

        let written = try Data(contentsOf: runDirectory.appendingPathComponent("result.json"))
        XCTAssertEqual(try Golden.canonical(written), try Golden.canonical(golden))
    }

    func testLeavesRuntimeLibrariesOutWhenThereAreNone() throws {
        try ResultFile.write(okResult(computePlan: nil), into: runDirectory)

        let runtime = try XCTUnwrap(try writtenJSON()["runtime"] as? [String: Any])
        XCTAssertNil(runtime["libraries"])
    }

    func testAWrittenResultReadsBackUnchanged() throws {
        let result = okResult(computePlan: ComputePlan(cpu: 3, gpu: 1, neuralEngine: 12))

        try ResultFile.write(result, into: runDirectory)

        XCTAssertEqual(try ResultFile.read(from: runDirectory), result)
    }

    func testWritesErrorAsNullRatherThanLeavingTheKeyOut() throws {
        try ResultFile.write(okResult(computePlan: nil), into: runDirectory)

        let written = try writtenJSON()
        XCTAssertTrue(written["error"] is NSNull, "\(written["error"] ?? "absent")")
    }

    func testWritesTheComputePlanUnderTheSchemaKeys() throws {
        try ResultFile.write(okResult(computePlan: ComputePlan(cpu: 3, gpu: 1, neuralEngine: 12)), into: runDirectory)

        let model = try XCTUnwrap((try writtenJSON()["models"] as? [[String: Any]])?.first)
        XCTAssertEqual(model["compute_plan"] as? [String: Int], ["cpu": 3, "gpu": 1, "neural_engine": 12])
    }

    func testLeavesTheComputePlanOutWhenThereIsNone() throws {
        try ResultFile.write(okResult(computePlan: nil), into: runDirectory)

        let model = try XCTUnwrap((try writtenJSON()["models"] as? [[String: Any]])?.first)
        XCTAssertNil(model["compute_plan"])
    }

    func testWritesOnlyTheResultFileIntoTheRunDirectory() throws {
        try ResultFile.write(okResult(computePlan: nil), into: runDirectory)

        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: runDirectory.path), ["result.json"])
    }

    private func writtenJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: runDirectory.appendingPathComponent("result.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func okResult(computePlan: ComputePlan?) -> BenchResult {
        let samples = [1.5, 1.25, 2.0]
        return BenchResult(
            schema: "autovit-bench/result", version: 1, runId: "runs/demo", status: .ok, error: nil,
            device: DeviceFacts(platform: "ios", model: "iPhone15,2", os: "iOS 17.4.1", cores: 6),
            runtime: RuntimeFacts(name: "coreml", version: "17.4.1", threads: 0, computeUnits: "cpuAndNeuralEngine"),
            startedAt: "2026-11-22T09:17:54Z", finishedAt: "2026-11-22T09:18:08Z", rounds: 3,
            models: [ModelResult(
                id: "net-a", loadMs: 12.5, firstInferenceMs: 15.25, samplesMs: samples,
                summary: summarize(samples), computePlan: computePlan
            )]
        )
    }
}
