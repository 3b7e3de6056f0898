import Foundation

/// A loaded model, ready to be timed. The Core ML glue implements it; the tests use fakes.
public protocol BenchModel: AnyObject {
    /// One inference on the model's fixed input.
    func predict() throws

    /// Operations per preferred compute device, or nil where the OS cannot tell.
    func computePlan() async -> ComputePlan?
}

/// The timing rules of ARCHITECTURE.md, as `orchestrator.measure.timing.TimingPlan` holds them.
public struct TimingPlan: Equatable {
    public var warmupRuns: Int
    public var warmupSeconds: Double
    public var runs: Int
    public var minSeconds: Double
    /// Runs of each model back to back in every round, the last one timed.
    public var burst: Int

    public init(warmupRuns: Int, warmupSeconds: Double, runs: Int, minSeconds: Double, burst: Int = 1) {
        precondition(burst >= 1, "a burst is at least one run, not \(burst)")
        self.warmupRuns = warmupRuns
        self.warmupSeconds = warmupSeconds
        self.runs = runs
        self.minSeconds = minSeconds
        self.burst = burst
    }

    public init(request: BenchRequest) {
        self.init(
            warmupRuns: request.warmup.runs,
            warmupSeconds: request.warmup.seconds,
            runs: request.measure.runs,
            minSeconds: request.measure.seconds,
            burst: request.burst
        )
    }
}

/// Per model (in the order given), its steady-state latency samples in milliseconds, one per round.
///
/// Mirrors `orchestrator.measure.timing.interleaved_latencies`: warm up for at least `warmupRuns`
/// rounds and `warmupSeconds`, then measure at least `runs` rounds and `minSeconds`, every model in
/// turn in each round (A B C A B C ...), so drift of the phone (heat, clocks) hits all models alike
/// and a removal delta can be taken round by round.
///
/// With a burst above 1 a model predicts that many times in its turn (A A A B B B ...) and only the
/// last prediction is timed: deployed, a model runs alone with its weights in the caches, while one
/// prediction at a time after the other models' starts with caches full of their weights, which at
/// a fraction of a millisecond per network is most of what gets measured.
public func interleavedLatencies(_ models: [any BenchModel], plan: TimingPlan) throws -> [[Double]] {
    _ = try runRounds(models, runs: plan.warmupRuns, seconds: plan.warmupSeconds, burst: plan.burst)
    return try runRounds(models, runs: plan.runs, seconds: plan.minSeconds, burst: plan.burst)
}

private func runRounds(_ models: [any BenchModel], runs: Int, seconds: Double, burst: Int) throws -> [[Double]] {
    let clock = ContinuousClock()
    let start = clock.now
    let minimum = Duration.seconds(seconds)
    var samples = Array(repeating: [Double](), count: models.count)
    var rounds = 0
    while rounds < runs || start.duration(to: clock.now) < minimum {
        for (index, model) in models.enumerated() {
            for _ in 1..<burst {
                try model.predict()
            }
            let elapsed = try clock.measure { try model.predict() }
            samples[index].append(milliseconds(elapsed))
        }
        rounds += 1
    }
    return samples
}

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1e3 + Double(attoseconds) * 1e-15
}
