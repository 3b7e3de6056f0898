@testable import BenchCore
import XCTest

final class RequestTests: XCTestCase {
    func testParsesTheGoldenCoreMLRequest() throws {
        let request = try BenchRequest.decode(Golden.data("request_coreml.json"), source: "request_coreml.json")

        XCTAssertEqual(request.runId, "golden/coreml")
        XCTAssertEqual(request.backend, "coreml")
        XCTAssertEqual(request.computeUnits, "all")
        XCTAssertEqual(request.models.map(\.inputShape), [[1, 3, 256, 256]])
        XCTAssertEqual(request.models.map(\.inputName), ["x"])
        XCTAssertEqual(TimingPlan(request: request), TimingPlan(warmupRuns: 10, warmupSeconds: 0.5, runs: 50, minSeconds: 1.0))
        XCTAssertEqual(request.cooldownS, 2.0)
    }

    func testParsesTheGoldenPteRequestWithNullComputeUnits() throws {
        let request = try BenchRequest.decode(Golden.data("request_pte.json"), source: "request_pte.json")

        XCTAssertNil(request.computeUnits)
        XCTAssertEqual(request.models.map(\.id), ["net-a", "net-b"])
        XCTAssertEqual(request.models.map(\.inputName), [nil, nil])
    }

    func testParsesTheGoldenBurstRequestIntoItsTimingPlan() throws {
        let request = try BenchRequest.decode(Golden.data("request_burst.json"), source: "request_burst.json")

        XCTAssertEqual(TimingPlan(request: request), TimingPlan(warmupRuns: 10, warmupSeconds: 0.5, runs: 50, minSeconds: 1.0, burst: 3))
    }

    func testRefusesEveryGoldenInvalidRequest() throws {
        let names = try Golden.invalidRequestNames()
        XCTAssertFalse(names.isEmpty, "no request_invalid_*.json in tests/contract")
        for name in names {
            let data = try Golden.data(name)
            XCTAssertThrowsError(try BenchRequest.decode(data, source: name), name) { error in
                XCTAssertTrue(error is ContractError, "\(name) was refused with \(error)")
            }
        }
    }

    func testRefusalOfAnUnknownBackendNamesTheBackend() throws {
        let data = try Golden.data("request_invalid_backend.json")

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at backend: 'tflite' is not one of ['pte', 'coreml'])"
        )
    }

    func testRefusalOfMissingModelsNamesTheMissingKey() throws {
        let data = try Golden.data("request_invalid_missing_models.json")

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at top level: 'models' is a required property)"
        )
    }

    func testRefusesARequestWithoutComputeUnitsEvenThoughTheyMayBeNull() throws {
        let data = try Golden.request("request_pte.json") { $0["compute_units"] = nil }

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at top level: 'compute_units' is a required property)"
        )
    }

    func testRefusesAnUnknownKeyInsteadOfIgnoringIt() throws {
        let data = try Golden.request("request_coreml.json") { request in
            var models = request["models"] as? [[String: Any]] ?? []
            models[0]["input_nmae"] = "x"
            request["models"] = models
        }

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at models/0: Additional properties are not allowed ('input_nmae' was unexpected))"
        )
    }

    func testRefusesComputeUnitsCoreMLDoesNotHave() throws {
        let data = try Golden.request("request_coreml.json") { $0["compute_units"] = "neuralEngineOnly" }

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at compute_units: 'neuralEngineOnly' is not one of "
                + "[None, 'all', 'cpuOnly', 'cpuAndGPU', 'cpuAndNeuralEngine'])"
        )
    }

    func testRefusesAMeasurementOfZeroRuns() throws {
        let data = try Golden.request("request_coreml.json") { $0["measure"] = ["runs": 0, "seconds": 1.5] as [String: Any] }

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at measure/runs: 0 is less than the minimum of 1)"
        )
    }

    func testRefusalOfABurstOfNoRunsNamesTheBurst() throws {
        let data = try Golden.data("request_invalid_burst.json")

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at measure/burst: 0 is less than the minimum of 1)"
        )
    }

    func testRefusesABurstAboveAHundredRuns() throws {
        let data = try Golden.request("request_burst.json") { $0["measure"] = ["runs": 50, "seconds": 1.0, "burst": 101] as [String: Any] }

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at measure/burst: 101 is greater than the maximum of 100)"
        )
    }

    func testRefusesABurstThatIsNotAWholeNumber() throws {
        let data = try Golden.request("request_burst.json") { $0["measure"] = ["runs": 50, "seconds": 1.0, "burst": 2.5] as [String: Any] }

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at measure/burst: 2.5 is not of type 'integer')"
        )
    }

    func testRefusesABurstInTheWarmUp() throws {
        let data = try Golden.request("request_burst.json") { $0["warmup"] = ["runs": 10, "seconds": 0.5, "burst": 3] as [String: Any] }

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at warmup: Additional properties are not allowed ('burst' was unexpected))"
        )
    }

    func testRefusesAnInputDimensionBelowOne() throws {
        let data = try Golden.request("request_coreml.json") { request in
            var models = request["models"] as? [[String: Any]] ?? []
            models[0]["input_shape"] = [1, 3, 0, 256]
            request["models"] = models
        }

        XCTAssertEqual(
            refusal(of: data),
            "request.json is not a valid request (at models/0/input_shape/2: 0 is less than the minimum of 1)"
        )
    }

    func testRefusalOfAValueOfTheWrongTypeNamesItsPath() throws {
        let data = try Golden.request("request_coreml.json") { $0["seed"] = "zero" }

        let message = try XCTUnwrap(refusal(of: data))
        XCTAssertTrue(message.hasPrefix("request.json is not a valid request (at seed: "), message)
    }

    func testRefusesTextThatIsNotJSON() {
        let message = refusal(of: Data("{\"schema\": ".utf8))

        XCTAssertNotNil(message)
    }

    func testReadingAMissingRequestFileSaysWhichFile() {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString).appendingPathComponent("request.json")

        XCTAssertThrowsError(try BenchRequest.read(from: missing)) { error in
            XCTAssertTrue((error as? ContractError)?.message.hasPrefix("request.json cannot be read") == true, "\(error)")
        }
    }

    private func refusal(of data: Data) -> String? {
        do {
            _ = try BenchRequest.decode(data, source: "request.json")
            return nil
        } catch {
            return (error as? ContractError)?.message
        }
    }
}
