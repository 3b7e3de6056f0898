@testable import BenchCore
import XCTest

final class BenchmarkTests: XCTestCase {
    private let log = CallLog()
    private var runDirectory: URL!
    private var models: [String: FakeModel] = [:]
    private var loadFailures: [String: FakeFailure] = [:]

    override func setUpWithError() throws {
        runDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        models = ["net-a": FakeModel("net-a", log: log), "net-b": FakeModel("net-b", log: log)]
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: runDirectory)
    }

    func testAnOkRunReportsEveryModelWithItsSamplesAndSummary() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 4))

        let result = await benchmark().run(in: runDirectory)

        XCTAssertEqual(result.status, .ok)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.runId, "golden/coreml")
        XCTAssertEqual(result.rounds, 4)
        XCTAssertEqual(result.models.map(\.id), ["net-a", "net-b"])
        for model in result.models {
            XCTAssertEqual(model.samplesMs.count, 4, model.id)
            XCTAssertEqual(model.summary, summarize(model.samplesMs), model.id)
            XCTAssertGreaterThanOrEqual(model.loadMs, 0, model.id)
            XCTAssertGreaterThanOrEqual(model.firstInferenceMs, 0, model.id)
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(model.warmLoadMs, model.id), 0, model.id)
        }
    }

    func testReportsCoreMLAsTheRuntimeWithTheRequestedComputeUnits() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 1))

        let result = await benchmark().run(in: runDirectory)

        XCTAssertEqual(result.runtime, RuntimeFacts(name: "coreml", version: "17.4.1", threads: 0, computeUnits: "all"))
        XCTAssertEqual(result.device.platform, "ios")
    }

    func testRecordsTheRuntimeLibrariesItWasGiven() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 1))

        let result = await benchmark(libraries: ["coreml": "3500.32.1", "ios": "17.4.1"]).run(in: runDirectory)

        XCTAssertEqual(result.runtime.libraries, ["coreml": "3500.32.1", "ios": "17.4.1"])
    }

    func testAnErrorResultRecordsTheRuntimeLibrariesToo() async throws {
        try writeRequest(Golden.data("request_pte.json"))

        let result = await benchmark(libraries: ["coreml": "3500.32.1", "ios": "17.4.1"]).run(in: runDirectory)

        XCTAssertEqual(result.status, .error)
        XCTAssertEqual(result.runtime.libraries, ["coreml": "3500.32.1", "ios": "17.4.1"])
    }

    func testRecordsTheThermalStateBeforeAndAfterTheMeasurement() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 1))
        let readings = Locked<[ThermalState]>([.nominal, .serious])

        let result = await benchmark(thermalState: { readings.mutate { $0.removeFirst() } }).run(in: runDirectory)

        XCTAssertEqual(result.thermal, ThermalRecord(before: ThermalReading(state: "nominal"), after: ThermalReading(state: "serious")))
    }

    func testLeavesTheThermalRecordOutWhereThereIsNoThermalState() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 1))

        let result = await benchmark(thermalState: { nil }).run(in: runDirectory)

        XCTAssertNil(result.thermal)
    }

    func testAMissingRunDirectoryIsReportedAsAnError() async throws {
        let missing = runDirectory.appendingPathComponent("missing")

        let result = await benchmark().run(in: missing)

        XCTAssertEqual(result.status, .error)
        XCTAssertEqual(result.error, "BenchError: the run directory \(missing.path) does not exist")
    }

    func testRunsAFirstInferenceOfEachModelBeforeTheInterleavedRounds() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 2))

        _ = await benchmark().run(in: runDirectory)

        XCTAssertEqual(log.calls, ["net-a", "net-b", "net-a", "net-b", "net-a", "net-b"])
    }

    func testReportsTheComputePlanOfModelsThatHaveOne() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 1))
        models["net-a"]?.plan = ComputePlan(cpu: 2, gpu: 0, neuralEngine: 40)

        let result = await benchmark().run(in: runDirectory)

        XCTAssertEqual(result.models.map(\.computePlan), [ComputePlan(cpu: 2, gpu: 0, neuralEngine: 40), nil])
    }

    func testAnInvalidRequestBecomesAnErrorResultNamingTheProblem() async throws {
        try writeRequest(Golden.data("request_invalid_backend.json"))

        let result = await benchmark().run(in: runDirectory)

        XCTAssertEqual(result.status, .error)
        XCTAssertEqual(result.runId, "unknown")
        XCTAssertEqual(
            result.error,
            "ContractError: request.json is not a valid request (at backend: 'tflite' is not one of ['pte', 'coreml'])"
        )
        XCTAssertEqual(result.rounds, 0)
        XCTAssertEqual(result.models, [])
    }

    func testRefusesAValidRequestForAnotherBackend() async throws {
        try writeRequest(Golden.data("request_pte.json"))

        let result = await benchmark().run(in: runDirectory)

        XCTAssertEqual(result.status, .error)
        XCTAssertEqual(result.runId, "golden/pte")
        XCTAssertEqual(result.error, "BenchError: this app runs Core ML models only, the request is for backend 'pte'")
    }

    func testAModelThatFailsToLoadIsNamedInTheError() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 1))
        loadFailures["net-b"] = FakeFailure(errorDescription: "invalid model header")

        let result = await benchmark().run(in: runDirectory)

        XCTAssertEqual(result.status, .error)
        XCTAssertEqual(result.error, "BenchError: model net-b failed to load: invalid model header")
        XCTAssertEqual(result.models, [])
    }

    func testAModelWhoseFirstInferenceFailsIsNamedInTheError() async throws {
        try writeRequest(twoModelCoreMLRequest(measureRuns: 1))
        models["net-a"]?.failure = FakeFailure(errorDescription: "input shape mismatch")

        let result = await benchmark().run(in: runDirectory)

        XCTAssertEqual(result.error, "BenchError: model net-a failed its first inference: input shape mismatch")
    }

    func testAMissingRequestIsReportedAsAnError() async {
        let result = await benchmark().run(in: runDirectory)

        XCTAssertEqual(result.status, .error)
        XCTAssertTrue(result.error?.hasPrefix("ContractError: request.json cannot be read") == true, result.error ?? "nil")
    }

    private func benchmark(
        libraries: [String: String]? = nil,
        thermalState: @escaping @Sendable () -> ThermalState? = { nil }
    ) -> Benchmark {
        let models = self.models
        let loadFailures = self.loadFailures
        return Benchmark(
            device: DeviceFacts(platform: "ios", model: "iPhone15,2", os: "iOS 17.4.1", cores: 6),
            runtimeVersion: "17.4.1",
            runtimeLibraries: libraries,
            thermalState: thermalState,
            prepareModel: { spec, _, _ in
                FakeLoadable(model: try XCTUnwrap(models[spec.id]), failure: loadFailures[spec.id])
            }
        )
    }

    /// The golden Core ML request with a second model and a fast timing plan.
    private func twoModelCoreMLRequest(measureRuns: Int) throws -> Data {
        try Golden.request("request_coreml.json") { request in
            var models = request["models"] as? [[String: Any]] ?? []
            models.append(["id": "net-b", "file": "models/net-b.mlpackage", "input_shape": [1, 3, 256, 256], "input_name": "x"])
            request["models"] = models
            request["warmup"] = ["runs": 0, "seconds": 0]
            request["measure"] = ["runs": measureRuns, "seconds": 0]
            request["cooldown_s"] = 0
        }
    }

    private func writeRequest(_ data: Data) throws {
        try data.write(to: runDirectory.appendingPathComponent("request.json"))
    }
}
