@testable import BenchCore
import XCTest

final class StatisticsTests: XCTestCase {
    func testReproducesTheGoldenSummaries() throws {
        let models = try ["result_ok.json", "result_coreml.json"].flatMap { name in
            try JSONDecoder().decode(BenchResult.self, from: Golden.data(name)).models
        }
        XCTAssertEqual(models.count, 3)

        for model in models {
            let summary = summarize(model.samplesMs)
            let expected = model.summary
            XCTAssertEqual(summary.medianMs, expected.medianMs, accuracy: 1e-9, model.id)
            XCTAssertEqual(summary.meanMs, expected.meanMs, accuracy: 1e-9, model.id)
            XCTAssertEqual(summary.trimmedMeanMs, expected.trimmedMeanMs, accuracy: 1e-9, model.id)
            XCTAssertEqual(summary.p90Ms, expected.p90Ms, accuracy: 1e-9, model.id)
            XCTAssertEqual(summary.stdMs, expected.stdMs, accuracy: 1e-9, model.id)
            XCTAssertEqual(summary.minMs, expected.minMs, accuracy: 1e-9, model.id)
            XCTAssertEqual(summary.maxMs, expected.maxMs, accuracy: 1e-9, model.id)
            XCTAssertEqual(summary.runs, expected.runs, model.id)
        }
    }

    func testTrimmedMeanDropsATenthOfTheSamplesFromEachEnd() {
        let summary = summarize([100, 1, 2, 3, 4, 5, 6, 7, 8, 0])

        XCTAssertEqual(summary.trimmedMeanMs, 4.5)
        XCTAssertEqual(summary.meanMs, 13.6, accuracy: 1e-12)
    }

    func testMedianOfAnEvenCountIsTheMeanOfTheMiddlePair() {
        XCTAssertEqual(summarize([4, 1, 3, 2]).medianMs, 2.5)
    }

    func testP90IndexRoundsHalfToEvenAsPythonDoes() {
        // 0.9 * (6 - 1) = 4.5, which Python's round() takes to 4, not 5.
        XCTAssertEqual(summarize([1, 2, 3, 4, 5, 6]).p90Ms, 5)
    }

    func testStandardDeviationIsThePopulationOne() {
        XCTAssertEqual(summarize([2, 4, 4, 4, 5, 5, 7, 9]).stdMs, 2, accuracy: 1e-12)
    }

    func testASingleSampleIsItsOwnSummary() {
        let summary = summarize([7.5])

        XCTAssertEqual(summary, Summary(
            medianMs: 7.5, meanMs: 7.5, trimmedMeanMs: 7.5, p90Ms: 7.5, stdMs: 0, minMs: 7.5, maxMs: 7.5, runs: 1
        ))
    }
}
