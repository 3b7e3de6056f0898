import Foundation

/// The process's memory counters: `TaskMemoryProbe` on the phone, fakes in the tests.
///
/// A protocol so that the arithmetic (which counter, which fallback, which words) is tested with
/// scripted values on Linux; the counters themselves exist only on Apple platforms.
public protocol MemoryProbe: Sendable {
    /// The counters in words, starting with the platform, e.g. "ios: phys_footprint and
    /// ledger_phys_footprint_peak of task_info(TASK_VM_INFO)".
    var method: String { get }
    /// What `resetPeak()` resets the peak through, in words; nil when the probe cannot reset it at all.
    var peakReset: String? { get }
    /// The memory the process holds now, in bytes.
    func residentBytes() throws -> Int
    /// The most the process has held since the last successful `resetPeak()` (else in its lifetime),
    /// in bytes; nil when there is no such counter.
    func peakBytes() throws -> Int?
    /// Sets the peak back to the current level; false when that cannot be done.
    func resetPeak() -> Bool
}

/// One model's memory, read around its load and first inference (outside the timed calls):
/// created just before the load, `loaded()` just after it, `ran()` after the first inference.
///
/// The peak is exact when the probe's peak was reset before the load, and also when it was not but
/// the model raised the lifetime high-water mark (the peak over the model's load and first inference
/// is then the new mark); otherwise it is the level after the first inference, a lower bound, and
/// the method says which. Bytes are counted above the level before the load, so the models loaded
/// earlier (still held) are not counted again, and clamped at zero (the system can reclaim more
/// than a load takes).
///
/// A probe that throws leaves the model's memory out (absent: not measured, as the schema allows)
/// rather than lose the run's latencies to a counter the phone would not give. The same rules as
/// the Android core's `MemoryMeter`, so both phones' numbers mean the same.
struct MemoryMeter {
    private let probe: any MemoryProbe
    private var failed = false
    private var reset = false
    private var peakBefore: Int?
    private var before = 0
    private var loadedAt = 0

    /// Just before a load: resets the peak (or, failing that, notes the lifetime one) and reads the level.
    init(_ probe: any MemoryProbe) {
        self.probe = probe
        do {
            reset = probe.resetPeak()
            if !reset {
                peakBefore = try probe.peakBytes()
            }
            before = try probe.residentBytes()
        } catch {
            failed = true
        }
    }

    /// After the load: the level it left.
    mutating func loaded() {
        guard !failed else {
            return
        }
        do {
            loadedAt = try probe.residentBytes()
        } catch {
            failed = true
        }
    }

    /// After the first inference: the model's memory, or nil when the probe failed at any step.
    mutating func ran() -> ModelMemory? {
        guard !failed else {
            return nil
        }
        do {
            let after = try probe.residentBytes()
            let peak = try probe.peakBytes()
            let peakSeen: Int
            let how: String
            if reset, let peak {
                peakSeen = peak
                how = ", the peak reset through \(probe.peakReset ?? "its reset") before each model's load"
            } else if let peak, let peakBefore, peak > peakBefore {
                peakSeen = peak
                how = "; \(notReset()), so it is the lifetime high-water mark, which this model's load and first inference raised"
            } else {
                peakSeen = after
                how = "; \(notReset()), so it is the level after the first inference (a lower bound)"
            }
            return try ModelMemory(
                loadBytes: max(0, loadedAt - before),
                peakBytes: max(0, max(peakSeen, loadedAt, after) - before),
                method: probe.method + how
            )
        } catch {
            failed = true
            return nil
        }
    }

    private func notReset() -> String {
        probe.peakReset.map { "\($0) did not reset the peak" } ?? "the peak cannot be reset"
    }
}
