@testable import BenchCore
import XCTest

final class ModelMemoryTests: XCTestCase {
    private let method = "android: VmRSS and VmHWM of /proc/self/status, the peak reset through /proc/self/clear_refs before each model's load"

    func testTheGoldenMemoryResultReadsEachModelsMemory() throws {
        let result = try JSONDecoder().decode(BenchResult.self, from: Golden.data("result_memory.json"))

        XCTAssertEqual(result.models.map(\.memory), [
            try ModelMemory(loadBytes: 4_718_592, peakBytes: 11_239_424, method: method),
            try ModelMemory(loadBytes: 2_965_504, peakBytes: 8_642_560, method: method),
        ])
    }

    func testResultsWithoutMemoryReadAsHavingNone() throws {
        let ok = try JSONDecoder().decode(BenchResult.self, from: Golden.data("result_ok.json"))

        XCTAssertEqual(ok.models.map(\.memory), [nil, nil])
    }

    /// Its models, that is: the app leaves a null `compute_units` out of the runtime, as the schema allows.
    func testTheGoldenMemoryResultsModelsAreWrittenBackAsTheyWere() throws {
        let golden = try Golden.data("result_memory.json")
        let runDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: runDirectory) }

        try ResultFile.write(JSONDecoder().decode(BenchResult.self, from: golden), into: runDirectory)

        let written = try Data(contentsOf: runDirectory.appendingPathComponent("result.json"))
        XCTAssertEqual(try canonicalModels(written), try canonicalModels(golden))
    }

    func testMemoryIsEncodedUnderTheSchemasKeysAsWholeNumbers() throws {
        let data = try JSONEncoder().encode(ModelMemory(loadBytes: 4_718_592, peakBytes: 11_239_424, method: method))

        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["load_bytes", "peak_bytes", "method"])
        XCTAssertEqual(object["load_bytes"] as? Int, 4_718_592)
        XCTAssertEqual(object["peak_bytes"] as? Int, 11_239_424)
    }

    func testNegativeBytesAreRefused() {
        XCTAssertThrowsError(try ModelMemory(loadBytes: -1, peakBytes: 0, method: method))
        XCTAssertThrowsError(try ModelMemory(loadBytes: 0, peakBytes: -1, method: method))
    }

    func testAPeakBelowTheLoadIsRefusedSinceThePeakIncludesTheLoad() {
        XCTAssertThrowsError(try ModelMemory(loadBytes: 2048, peakBytes: 1024, method: method)) { error in
            XCTAssertEqual(
                error as? ContractError,
                ContractError("peak_bytes must be in load_bytes (2048)...68719476736, not 1024: the peak includes the load")
            )
        }
    }

    func testMoreThanTheSchemas64GiBIsRefused() throws {
        XCTAssertThrowsError(try ModelMemory(loadBytes: 0, peakBytes: (64 << 30) + 1, method: method))
        XCTAssertNoThrow(try ModelMemory(loadBytes: 64 << 30, peakBytes: 64 << 30, method: method))
    }

    func testAnEmptyMethodOrOneOver300CharactersIsRefused() {
        XCTAssertThrowsError(try ModelMemory(loadBytes: 0, peakBytes: 0, method: ""))
        XCTAssertThrowsError(try ModelMemory(loadBytes: 0, peakBytes: 0, method: String(repeating: "x", count: 301)))
        XCTAssertNoThrow(try ModelMemory(loadBytes: 0, peakBytes: 0, method: String(repeating: "x", count: 300)))
    }

    func testAResultWithANegativeMemoryIsRefusedWhenRead() throws {
        let data = try Golden.request("result_memory.json") { result in
            var models = result["models"] as? [[String: Any]] ?? []
            models[0]["memory"] = ["load_bytes": -4096, "peak_bytes": 0, "method": "fake"]
            result["models"] = models
        }

        XCTAssertThrowsError(try JSONDecoder().decode(BenchResult.self, from: data)) { error in
            guard case let DecodingError.dataCorrupted(context) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(context.debugDescription.hasPrefix("load_bytes must be"), context.debugDescription)
        }
    }

    private func canonicalModels(_ result: Data) throws -> String {
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: result) as? [String: Any])
        return try Golden.canonical(JSONSerialization.data(withJSONObject: try XCTUnwrap(object["models"])))
    }

    #if canImport(Darwin)
    func testTheTaskProbeReadsThisProcesssFootprintAndPeak() throws {
        let probe = TaskMemoryProbe()

        let footprint = try probe.residentBytes()
        let peak = try XCTUnwrap(try probe.peakBytes())

        XCTAssertGreaterThan(footprint, 0)
        XCTAssertGreaterThanOrEqual(peak, footprint)
        XCTAssertEqual(probe.method, TaskMemoryProbeWords.method)
        XCTAssertFalse(probe.resetPeak())
    }
    #endif
}
