import BenchCore
import XCTest

final class InputFillTests: XCTestCase {
    func testTheSameSeedGivesTheSameValues() {
        XCTAssertEqual(values(seed: 7, count: 100), values(seed: 7, count: 100))
    }

    func testAnotherSeedGivesOtherValues() {
        XCTAssertNotEqual(values(seed: 7, count: 100), values(seed: 8, count: 100))
    }

    func testValuesLieBetweenMinusOneAndOne() {
        let filled = values(seed: -3, count: 10_000)

        XCTAssertTrue(filled.allSatisfy { $0 >= -1 && $0 < 1 })
    }

    private func values(seed: Int, count: Int) -> [Float] {
        var fill = InputFill(seed: seed)
        return (0..<count).map { _ in fill.next() }
    }
}
