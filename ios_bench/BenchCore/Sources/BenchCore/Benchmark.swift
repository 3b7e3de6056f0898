import Foundation

/// A model that is ready to load: for Core ML, its `.mlpackage` already compiled and its input filled.
///
/// Separate from `BenchModel` so that what a shipped app does at build time (compiling) stays out
/// of `load_ms`, which then means what it means on the host: the cost of loading at launch.
public protocol LoadableModel {
    func load() async throws -> any BenchModel
}

/// A failure of the run itself (as opposed to a request that breaks the contract).
public struct BenchError: Error, LocalizedError, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var errorDescription: String? { message }
}

/// Whatever answers a run directory with a result: the `Benchmark` in the app, a fake in the tests.
public protocol RunDirectoryRunner: Sendable {
    /// Never throws: whatever goes wrong becomes a result with status "error" and the reason,
    /// because `result.json` is the only way the runner on the computer learns what happened.
    func run(in runDirectory: URL) async -> BenchResult
}

/// One benchmark run over one run directory: read the request, load every model, time them (and,
/// given a memory probe, read the memory each adds), and return the result. Mirrors
/// `orchestrator.runners.host_child.run`.
///
/// Sendable, so the app can hand it to the resident loop, which runs off the main actor.
public struct Benchmark: RunDirectoryRunner {
    /// Prepares one model of the request (compiles it); not timed.
    public typealias PrepareModel = @Sendable (_ spec: ModelSpec, _ request: BenchRequest, _ runDirectory: URL) async throws -> any LoadableModel

    public static let runtimeName = "coreml"

    public let device: DeviceFacts
    public let runtimeVersion: String
    /// `runtime.libraries` of every result, or nil to leave it out.
    public let runtimeLibraries: [String: String]?
    public let prepareModel: PrepareModel
    /// Read before and after the measurement, for the result's `thermal` record.
    public let thermalState: @Sendable () -> ThermalState?
    /// Reads each model's memory at its load and first inference; nil leaves `memory` out of the result.
    public let memoryProbe: (any MemoryProbe)?

    public init(
        device: DeviceFacts,
        runtimeVersion: String,
        runtimeLibraries: [String: String]? = nil,
        thermalState: @escaping @Sendable () -> ThermalState? = ThermalState.current,
        memoryProbe: (any MemoryProbe)? = nil,
        prepareModel: @escaping PrepareModel
    ) {
        self.device = device
        self.runtimeVersion = runtimeVersion
        self.runtimeLibraries = runtimeLibraries
        self.thermalState = thermalState
        self.memoryProbe = memoryProbe
        self.prepareModel = prepareModel
    }

    public func run(in runDirectory: URL) async -> BenchResult {
        let startedAt = timestamp()
        var result = BenchResult(
            schema: BenchResult.schemaName, version: contractVersion, runId: "unknown",
            status: .error, error: nil, device: device,
            runtime: RuntimeFacts(name: Self.runtimeName, version: runtimeVersion, threads: 0, computeUnits: nil, libraries: runtimeLibraries),
            startedAt: startedAt, finishedAt: startedAt, rounds: 0, models: []
        )
        do {
            guard isDirectory(runDirectory) else {
                throw BenchError("the run directory \(runDirectory.path) does not exist")
            }
            let parsed = try BenchRequest.read(from: runDirectory.appendingPathComponent("request.json"))
            result.runId = parsed.runId
            result.runtime.computeUnits = parsed.computeUnits ?? "all"
            let before = thermalState()
            result.models = try await measure(parsed, in: runDirectory)
            if let before, let after = thermalState() {
                result.thermal = ThermalRecord(before: ThermalReading(state: before.rawValue), after: ThermalReading(state: after.rawValue))
            }
            result.rounds = result.models[0].samplesMs.count
            result.status = .ok
        } catch {
            result.error = describe(error)
        }
        result.finishedAt = timestamp()
        return result
    }

    private func measure(_ request: BenchRequest, in runDirectory: URL) async throws -> [ModelResult] {
        guard request.backend == Self.runtimeName else {
            throw BenchError("this app runs Core ML models only, the request is for backend '\(request.backend)'")
        }
        let clock = ContinuousClock()
        var models: [any BenchModel] = []
        var loadMs: [Double] = []
        var firstInferenceMs: [Double] = []
        var warmLoadMs: [Double] = []
        var memories: [ModelMemory?] = []
        for spec in request.models {
            let model: any BenchModel
            let loadable: any LoadableModel
            // Like load_ms, memory is counted from after compiling, which a shipped app does at build time.
            var meter: MemoryMeter?
            do {
                loadable = try await prepareModel(spec, request, runDirectory)
                meter = memoryProbe.map { MemoryMeter($0) }
                let loadStart = clock.now
                model = try await loadable.load()
                loadMs.append(milliseconds(loadStart.duration(to: clock.now)))
                meter?.loaded()
            } catch {
                throw BenchError("model \(spec.id) failed to load: \(error.localizedDescription)")
            }
            do {
                let elapsed = try clock.measure { try model.predict() }
                firstInferenceMs.append(milliseconds(elapsed))
            } catch {
                throw BenchError("model \(spec.id) failed its first inference: \(error.localizedDescription)")
            }
            memories.append(meter?.ran())
            models.append(model)
            // The warm load: the same compiled model opened again once it has run, as AI Hub
            // reports it; after the memory was read, and released at once, so it adds to neither.
            do {
                let warmStart = clock.now
                _ = try await loadable.load()
                warmLoadMs.append(milliseconds(warmStart.duration(to: clock.now)))
            } catch {
                throw BenchError("model \(spec.id) failed to load a second time: \(error.localizedDescription)")
            }
        }
        // After compiling and loading, before warming up: the heat of loading must not carry into
        // the measurement, which a phone's thermal throttling would otherwise slow down.
        if let cooldown = request.cooldownS, cooldown > 0 {
            try await Task.sleep(for: .seconds(cooldown))
        }
        let samples = try interleavedLatencies(models, plan: TimingPlan(request: request))
        var results: [ModelResult] = []
        for (index, spec) in request.models.enumerated() {
            let computePlan = await models[index].computePlan()
            results.append(ModelResult(
                id: spec.id,
                loadMs: loadMs[index],
                firstInferenceMs: firstInferenceMs[index],
                samplesMs: samples[index],
                summary: summarize(samples[index]),
                computePlan: computePlan,
                memory: memories[index],
                warmLoadMs: warmLoadMs[index]
            ))
        }
        return results
    }
}

/// `Type: reason`, the form of the host runner's error strings.
func describe(_ error: Error) -> String {
    "\(type(of: error)): \(error.localizedDescription)"
}

func isDirectory(_ url: URL) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
}

/// An ISO 8601 time in UTC, e.g. `2026-11-22T09:17:54Z`.
func timestamp(_ date: Date = Date()) -> String {
    ISO8601DateFormatter().string(from: date)
}
