@testable import BenchCore
import XCTest

final class TimingLoopTests: XCTestCase {
    private let log = CallLog()

    func testRunsEveryModelOncePerRoundInOrder() throws {
        let models = [FakeModel("a", log: log), FakeModel("b", log: log), FakeModel("c", log: log)]

        _ = try interleavedLatencies(models, plan: TimingPlan(warmupRuns: 1, warmupSeconds: 0, runs: 2, minSeconds: 0))

        XCTAssertEqual(log.calls, ["a", "b", "c", "a", "b", "c", "a", "b", "c"])
    }

    func testKeepsOneSampleOfEachModelPerMeasuredRoundAndNoneFromTheWarmUp() throws {
        let models = [FakeModel("a", log: log), FakeModel("b", log: log)]

        let samples = try interleavedLatencies(models, plan: TimingPlan(warmupRuns: 4, warmupSeconds: 0, runs: 3, minSeconds: 0))

        XCTAssertEqual(samples.map(\.count), [3, 3])
        XCTAssertEqual(log.calls.count, (4 + 3) * 2)
    }

    func testRunsEachModelItsBurstBackToBackInEveryRoundWarmUpIncluded() throws {
        let models = [FakeModel("a", log: log), FakeModel("b", log: log)]

        let samples = try interleavedLatencies(models, plan: TimingPlan(warmupRuns: 1, warmupSeconds: 0, runs: 2, minSeconds: 0, burst: 3))

        XCTAssertEqual(log.calls, Array(repeating: ["a", "a", "a", "b", "b", "b"], count: 3).flatMap { $0 })
        XCTAssertEqual(samples.map(\.count), [2, 2])
    }

    func testTimesOnlyTheLastPredictionOfEachBurst() throws {
        let model = CyclingModel(seconds: [0.05, 0.05, 0.01])

        let samples = try interleavedLatencies([model], plan: TimingPlan(warmupRuns: 0, warmupSeconds: 0, runs: 2, minSeconds: 0, burst: 3))

        XCTAssertEqual(samples[0].count, 2)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(samples[0].min()), 10)
        XCTAssertLessThan(try XCTUnwrap(samples[0].max()), 50, "a sample took in more than the burst's last prediction")
    }

    func testMeasuresPastTheMinimumRunsUntilTheMinimumTimeHasPassed() throws {
        let model = FakeModel("a", log: log)
        model.secondsPerPrediction = 0.002

        let samples = try interleavedLatencies([model], plan: TimingPlan(warmupRuns: 0, warmupSeconds: 0, runs: 1, minSeconds: 0.05))

        XCTAssertGreaterThan(samples[0].count, 1)
    }

    func testWarmsUpUntilTheWarmUpTimeHasPassed() throws {
        let model = FakeModel("a", log: log)
        model.secondsPerPrediction = 0.002

        let samples = try interleavedLatencies([model], plan: TimingPlan(warmupRuns: 1, warmupSeconds: 0.05, runs: 1, minSeconds: 0))

        XCTAssertEqual(samples[0].count, 1)
        XCTAssertGreaterThan(log.calls.count, 2)
    }

    func testSamplesAreInMilliseconds() throws {
        let model = FakeModel("a", log: log)
        model.secondsPerPrediction = 0.01

        let samples = try interleavedLatencies([model], plan: TimingPlan(warmupRuns: 0, warmupSeconds: 0, runs: 2, minSeconds: 0))

        XCTAssertGreaterThanOrEqual(try XCTUnwrap(samples[0].min()), 10)
    }

    func testAFailingPredictionStopsTheMeasurement() {
        let model = FakeModel("a", log: log)
        model.failure = FakeFailure(errorDescription: "boom")

        XCTAssertThrowsError(try interleavedLatencies([model], plan: TimingPlan(warmupRuns: 0, warmupSeconds: 0, runs: 1, minSeconds: 0)))
    }
}
