import Foundation

/// The summary `orchestrator.contract.summarize` computes, step for step, so the Python, Kotlin and
/// Swift runners report the same numbers for the same samples (the golden `result_ok.json` checks it).
///
/// Median, mean, 20%-trimmed mean (drop `Int(n * 0.1)` samples from each end, as ExecuTorch's
/// benchmark app does), p90 at the round-half-to-even index Python's `round` picks, population
/// standard deviation, min and max. `samples` must not be empty: a measurement has at least one round.
public func summarize(_ samples: [Double]) -> Summary {
    precondition(!samples.isEmpty, "summarize needs at least one sample")
    let ordered = samples.sorted()
    let n = ordered.count
    let cut = Int(Double(n) * 0.1)
    let middle = n / 2
    let median = n % 2 == 1 ? ordered[middle] : (ordered[middle - 1] + ordered[middle]) / 2
    let mean = fmean(ordered)
    let p90Index = min(n - 1, Int((0.9 * Double(n - 1)).rounded(.toNearestOrEven)))
    return Summary(
        medianMs: median,
        meanMs: mean,
        trimmedMeanMs: fmean(Array(ordered[cut..<(n - cut)])),
        p90Ms: ordered[p90Index],
        stdMs: (compensatedSum(ordered.map { ($0 - mean) * ($0 - mean) }) / Double(n)).squareRoot(),
        minMs: ordered[0],
        maxMs: ordered[n - 1],
        runs: n
    )
}

/// Python's `statistics.fmean` divides an exactly rounded sum (`math.fsum`); a compensated sum
/// keeps the Swift mean within an ulp of it even over thousands of samples.
private func fmean(_ values: [Double]) -> Double {
    compensatedSum(values) / Double(values.count)
}

/// Neumaier's compensated summation.
private func compensatedSum(_ values: [Double]) -> Double {
    var sum = 0.0
    var compensation = 0.0
    for value in values {
        let total = sum + value
        if abs(sum) >= abs(value) {
            compensation += (sum - total) + value
        } else {
            compensation += (value - total) + sum
        }
        sum = total
    }
    return sum + compensation
}
