import BenchCore
import Foundation

/// The order in which fake models were run, shared by all fakes of a test.
final class CallLog {
    var calls: [String] = []
}

struct FakeFailure: Error, LocalizedError {
    let errorDescription: String?
}

/// A model that records each prediction instead of running one.
final class FakeModel: BenchModel {
    let name: String
    let log: CallLog
    var secondsPerPrediction: TimeInterval = 0
    var plan: ComputePlan?
    var failure: FakeFailure?

    init(_ name: String, log: CallLog) {
        self.name = name
        self.log = log
    }

    func predict() throws {
        if let failure {
            throw failure
        }
        log.calls.append(name)
        if secondsPerPrediction > 0 {
            Thread.sleep(forTimeInterval: secondsPerPrediction)
        }
    }

    func computePlan() async -> ComputePlan? {
        plan
    }
}

/// Hands out its fake model, or fails to load like a broken model file.
struct FakeLoadable: LoadableModel {
    let model: FakeModel
    var failure: FakeFailure?

    func load() async throws -> any BenchModel {
        if let failure {
            throw failure
        }
        return model
    }
}
