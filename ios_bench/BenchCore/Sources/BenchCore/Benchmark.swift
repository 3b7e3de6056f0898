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

/// One benchmark run over one run directory: read the request, load every model, time them, and
/// return the result. Mirrors `orchestrator.runners.host_child.run`.
///
/// Sendable, so the app can run it off the main actor (Swift 6 refuses to send anything else there).
public struct Benchmark: Sendable {
    /// Prepares one model of the request (compiles it); not timed.
    public typealias PrepareModel = @Sendable (_ spec: ModelSpec, _ request: BenchRequest, _ runDirectory: URL) async throws -> any LoadableModel

    public static let runtimeName = "coreml"

    public let device: DeviceFacts
    public let runtimeVersion: String
    /// `runtime.libraries` of every result, or nil to leave it out.
    public let runtimeLibraries: [String: String]?
    public let prepareModel: PrepareModel

    public init(
        device: DeviceFacts,
        runtimeVersion: String,
        runtimeLibraries: [String: String]? = nil,
        prepareModel: @escaping PrepareModel
    ) {
        self.device = device
        self.runtimeVersion = runtimeVersion
        self.runtimeLibraries = runtimeLibraries
        self.prepareModel = prepareModel
    }

    /// Never throws: whatever goes wrong becomes a result with status "error" and the reason,
    /// because `result.json` is the only way the runner on the computer learns what happened.
    public func run(in runDirectory: URL) async -> BenchResult {
        let startedAt = timestamp()
        var result = BenchResult(
            schema: BenchResult.schemaName, version: contractVersion, runId: "unknown",
            status: .error, error: nil, device: device,
            runtime: RuntimeFacts(name: Self.runtimeName, version: runtimeVersion, threads: 0, computeUnits: nil, libraries: runtimeLibraries),
            startedAt: startedAt, finishedAt: startedAt, rounds: 0, models: []
        )
        do {
            let parsed = try BenchRequest.read(from: runDirectory.appendingPathComponent("request.json"))
            result.runId = parsed.runId
            result.runtime.computeUnits = parsed.computeUnits ?? "all"
            let before = currentThermalState()
            result.models = try await measure(parsed, in: runDirectory)
            if let before, let after = currentThermalState() {
                result.thermal = ThermalRecord(before: before, after: after)
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
        for spec in request.models {
            let model: any BenchModel
            do {
                let loadable = try await prepareModel(spec, request, runDirectory)
                let loadStart = clock.now
                model = try await loadable.load()
                loadMs.append(milliseconds(loadStart.duration(to: clock.now)))
            } catch {
                throw BenchError("model \(spec.id) failed to load: \(error.localizedDescription)")
            }
            do {
                let elapsed = try clock.measure { try model.predict() }
                firstInferenceMs.append(milliseconds(elapsed))
            } catch {
                throw BenchError("model \(spec.id) failed its first inference: \(error.localizedDescription)")
            }
            models.append(model)
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
                computePlan: computePlan
            ))
        }
        return results
    }
}

/// The thermal state now; nil where Foundation has none (Linux, where BenchCore's tests also run).
func currentThermalState() -> ThermalReading? {
    #if os(iOS) || os(macOS)
    switch ProcessInfo.processInfo.thermalState {
    case .nominal:
        return ThermalReading(state: "nominal")
    case .fair:
        return ThermalReading(state: "fair")
    case .serious:
        return ThermalReading(state: "serious")
    case .critical:
        return ThermalReading(state: "critical")
    @unknown default:
        return ThermalReading(state: "unknown")
    }
    #else
    return nil
    #endif
}

/// `Type: reason`, the form of the host runner's error strings.
func describe(_ error: Error) -> String {
    "\(type(of: error)): \(error.localizedDescription)"
}

private func timestamp() -> String {
    ISO8601DateFormatter().string(from: Date())
}
