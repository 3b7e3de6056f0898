import Foundation

/// The version of both contract documents, `orchestrator.contract.VERSION`.
public let contractVersion = 1

/// `request.json` as `orchestrator/measure/schemas/request.v1.json` defines it: what one run must measure.
///
/// Decodable only: the app never writes requests, and decoding by hand lets `compute_units` be
/// required yet nullable, as the schema says.
public struct BenchRequest: Decodable, Equatable, Sendable {
    public static let schemaName = "autovit-bench/request"

    public let schema: String
    public let version: Int
    public let runId: String
    public let backend: String
    public let models: [ModelSpec]
    public let threads: Int
    public let computeUnits: String?
    public let warmup: Phase
    public let measure: Phase
    /// `measure.burst`: runs of each model back to back in every round, warm-up included, the last
    /// one timed; 1 where `measure` has none (requests written before bursts existed).
    public let burst: Int
    public let cooldownS: Double?
    public let seed: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case schema, version, backend, models, threads, warmup, measure, seed
        case runId = "run_id"
        case computeUnits = "compute_units"
        case cooldownS = "cooldown_s"
    }

    /// `burst` sits inside `measure`, beside the keys `Phase` reads.
    enum MeasureKeys: String, CodingKey {
        case burst
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decode(String.self, forKey: .schema)
        version = try container.decode(Int.self, forKey: .version)
        runId = try container.decode(String.self, forKey: .runId)
        backend = try container.decode(String.self, forKey: .backend)
        models = try container.decode([ModelSpec].self, forKey: .models)
        threads = try container.decode(Int.self, forKey: .threads)
        computeUnits = try container.decode(String?.self, forKey: .computeUnits)
        warmup = try container.decode(Phase.self, forKey: .warmup)
        measure = try container.decode(Phase.self, forKey: .measure)
        burst = try Self.decodeBurst(container)
        cooldownS = try container.decodeIfPresent(Double.self, forKey: .cooldownS)
        seed = try container.decode(Int.self, forKey: .seed)
    }

    /// Read as a number and then held to a whole one, because `JSONDecoder` refuses `2.5` for an
    /// `Int` as "not valid JSON", without saying where.
    private static func decodeBurst(_ container: KeyedDecodingContainer<CodingKeys>) throws -> Int {
        let measure = try container.nestedContainer(keyedBy: MeasureKeys.self, forKey: .measure)
        guard let number = try measure.decodeIfPresent(Double.self, forKey: .burst) else {
            return 1
        }
        guard let whole = Int(exactly: number) else {
            let context = DecodingError.Context(
                codingPath: measure.codingPath + [MeasureKeys.burst],
                debugDescription: "\(number) is not of type 'integer'"
            )
            throw DecodingError.typeMismatch(Int.self, context)
        }
        return whole
    }
}

/// One model of a request; `file` is relative to the run directory.
public struct ModelSpec: Decodable, Equatable, Sendable {
    public let id: String
    public let file: String
    public let inputShape: [Int]
    public let inputName: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, file
        case inputShape = "input_shape"
        case inputName = "input_name"
    }
}

/// A warm-up or measurement phase: it lasts at least `runs` rounds and at least `seconds`.
public struct Phase: Decodable, Equatable, Sendable {
    public let runs: Int
    public let seconds: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case runs, seconds
    }
}

/// `result.json` as `orchestrator/measure/schemas/result.v1.json` defines it.
public struct BenchResult: Codable, Equatable, Sendable {
    public static let schemaName = "autovit-bench/result"

    public enum Status: String, Codable, Sendable {
        case ok, error
    }

    public var schema: String
    public var version: Int
    public var runId: String
    public var status: Status
    public var error: String?
    public var device: DeviceFacts
    public var runtime: RuntimeFacts
    public var startedAt: String
    public var finishedAt: String
    public var rounds: Int
    public var models: [ModelResult]
    /// Outside the schema's required keys (it allows extra ones): absent where the OS reports no thermal state.
    public var thermal: ThermalRecord?

    enum CodingKeys: String, CodingKey {
        case schema, version, status, error, device, runtime, rounds, models, thermal
        case runId = "run_id"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    /// Written by hand because the schema requires the `error` key even when it is null, and the
    /// synthesized encoder leaves out nil optionals.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schema, forKey: .schema)
        try container.encode(version, forKey: .version)
        try container.encode(runId, forKey: .runId)
        try container.encode(status, forKey: .status)
        try container.encode(error, forKey: .error)
        try container.encode(device, forKey: .device)
        try container.encode(runtime, forKey: .runtime)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encode(rounds, forKey: .rounds)
        try container.encode(models, forKey: .models)
        try container.encodeIfPresent(thermal, forKey: .thermal)
    }
}

/// The phone's thermal state (`ProcessInfo.ThermalState`: nominal, fair, serious or critical) at one moment.
public struct ThermalReading: Codable, Equatable, Sendable {
    public var state: String

    public init(state: String) {
        self.state = state
    }
}

/// The thermal state before and after a session: iOS throttles the chip at serious and critical, so
/// the runner measures a session that reached either again rather than trust its latencies.
public struct ThermalRecord: Codable, Equatable, Sendable {
    public var before: ThermalReading
    public var after: ThermalReading

    public init(before: ThermalReading, after: ThermalReading) {
        self.before = before
        self.after = after
    }
}

/// What the phone is; `model` is the hardware identifier (e.g. "iPhone15,2"), which names the chip.
public struct DeviceFacts: Codable, Equatable, Sendable {
    public var platform: String
    public var model: String
    public var os: String
    public var cores: Int
    public var cpuModel: String?

    enum CodingKeys: String, CodingKey {
        case platform, model, os, cores
        case cpuModel = "cpu_model"
    }

    public init(platform: String, model: String, os: String, cores: Int, cpuModel: String? = nil) {
        self.platform = platform
        self.model = model
        self.os = os
        self.cores = cores
        self.cpuModel = cpuModel
    }
}

/// Which runtime ran the models; for Core ML the version is the OS version, since Core ML ships with it.
public struct RuntimeFacts: Codable, Equatable, Sendable {
    public var name: String
    public var version: String
    public var threads: Int
    public var computeUnits: String?
    /// The versions behind the measurement, library by library (the iOS app's: `{"coreml": "3500.32.1",
    /// "ios": "17.4.1"}`), so a LUT records exactly what it was measured with. Optional in
    /// `result.v1.json`, and absent from older results and other runners': written only when set,
    /// and read as nil when missing.
    public var libraries: [String: String]?

    enum CodingKeys: String, CodingKey {
        case name, version, threads, libraries
        case computeUnits = "compute_units"
    }

    public init(name: String, version: String, threads: Int, computeUnits: String?, libraries: [String: String]? = nil) {
        self.name = name
        self.version = version
        self.threads = threads
        self.computeUnits = computeUnits
        self.libraries = libraries
    }
}

/// One model's measurements: `samplesMs[r]` comes from interleaved round `r`.
public struct ModelResult: Codable, Equatable, Sendable {
    public var id: String
    public var loadMs: Double
    public var firstInferenceMs: Double
    public var samplesMs: [Double]
    public var summary: Summary
    public var computePlan: ComputePlan?
    /// Optional in `result.v1.json`: written only when measured (a `Benchmark` with a memory probe),
    /// and read as nil from results without it (older apps', other runners').
    public var memory: ModelMemory? = nil
    /// Optional in `result.v1.json`: a second load of the model once it has run (as Qualcomm AI Hub
    /// reports a warm load), nil in results of apps before it.
    public var warmLoadMs: Double? = nil

    enum CodingKeys: String, CodingKey {
        case id, summary, memory
        case loadMs = "load_ms"
        case firstInferenceMs = "first_inference_ms"
        case warmLoadMs = "warm_load_ms"
        case samplesMs = "samples_ms"
        case computePlan = "compute_plan"
    }
}

/// The statistics `orchestrator.contract.summarize` computes; `summarize(_:)` reproduces them.
public struct Summary: Codable, Equatable, Sendable {
    public var medianMs: Double
    public var meanMs: Double
    public var trimmedMeanMs: Double
    public var p90Ms: Double
    public var stdMs: Double
    public var minMs: Double
    public var maxMs: Double
    public var runs: Int

    enum CodingKeys: String, CodingKey {
        case runs
        case medianMs = "median_ms"
        case meanMs = "mean_ms"
        case trimmedMeanMs = "trimmed_mean_ms"
        case p90Ms = "p90_ms"
        case stdMs = "std_ms"
        case minMs = "min_ms"
        case maxMs = "max_ms"
    }
}

/// How many of a model's operations Core ML prefers to run on each compute device.
///
/// It tells a slow entry of the LUT apart from one that fell off the Neural Engine.
public struct ComputePlan: Codable, Equatable, Sendable {
    public var cpu: Int
    public var gpu: Int
    public var neuralEngine: Int

    enum CodingKeys: String, CodingKey {
        case cpu, gpu
        case neuralEngine = "neural_engine"
    }

    public init(cpu: Int = 0, gpu: Int = 0, neuralEngine: Int = 0) {
        self.cpu = cpu
        self.gpu = gpu
        self.neuralEngine = neuralEngine
    }
}
