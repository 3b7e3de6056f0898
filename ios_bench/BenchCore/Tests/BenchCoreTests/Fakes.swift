import BenchCore
import Foundation

/// A value shared between a test and the tasks it starts, behind a lock: the fakes are handed to
/// code that runs them from other tasks, so Swift 6 requires them to be Sendable.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) {
        stored = value
    }

    var value: Value {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    func mutate<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&stored)
    }
}

/// The order in which fake models were run, shared by all fakes of a test.
final class CallLog: Sendable {
    private let entries = Locked<[String]>([])

    var calls: [String] { entries.value }

    func append(_ call: String) {
        entries.mutate { $0.append(call) }
    }
}

struct FakeFailure: Error, LocalizedError {
    let errorDescription: String?
}

/// A model that records each prediction instead of running one.
final class FakeModel: BenchModel, Sendable {
    private struct Behaviour {
        var secondsPerPrediction: TimeInterval = 0
        var plan: ComputePlan?
        var failure: FakeFailure?
    }

    let name: String
    let log: CallLog
    private let behaviour = Locked(Behaviour())

    init(_ name: String, log: CallLog) {
        self.name = name
        self.log = log
    }

    var secondsPerPrediction: TimeInterval {
        get { behaviour.value.secondsPerPrediction }
        set { behaviour.mutate { $0.secondsPerPrediction = newValue } }
    }

    var plan: ComputePlan? {
        get { behaviour.value.plan }
        set { behaviour.mutate { $0.plan = newValue } }
    }

    var failure: FakeFailure? {
        get { behaviour.value.failure }
        set { behaviour.mutate { $0.failure = newValue } }
    }

    func predict() throws {
        if let failure {
            throw failure
        }
        log.append(name)
        if secondsPerPrediction > 0 {
            Thread.sleep(forTimeInterval: secondsPerPrediction)
        }
    }

    func computePlan() async -> ComputePlan? {
        plan
    }
}

/// A model whose successive predictions take `seconds` in turn, starting over after the last.
final class CyclingModel: BenchModel, Sendable {
    private let seconds: [TimeInterval]
    private let predictions = Locked(0)

    init(seconds: [TimeInterval]) {
        self.seconds = seconds
    }

    func predict() throws {
        let turn = predictions.mutate { count in
            defer { count += 1 }
            return count
        }
        Thread.sleep(forTimeInterval: seconds[turn % seconds.count])
    }

    func computePlan() async -> ComputePlan? {
        nil
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
