#if canImport(Darwin)
import Darwin

/// The phone's own accounting of this app, from `task_info(TASK_VM_INFO)`: `phys_footprint`, the
/// number Xcode's memory gauge shows and jetsam ends apps by (dirty and compressed memory, Core ML's
/// weights and buffers included, clean file-backed pages not), and `ledger_phys_footprint_peak`,
/// its high-water mark over the app's life.
///
/// Only Apple platforms have these calls, hence the `canImport(Darwin)`: the package stays
/// Foundation-only on Linux, where its tests use fakes. iOS offers no call that resets the peak, so
/// `resetPeak()` says no; the benchmark then takes the mark where a model raised it (the usual case,
/// as models stay loaded and each adds to the last) and the footprint after the first inference
/// otherwise, and says which in the result.
public struct TaskMemoryProbe: MemoryProbe {
    public let method = "ios: phys_footprint and ledger_phys_footprint_peak of task_info(TASK_VM_INFO)"
    public let peakReset: String? = nil

    public init() {}

    public func residentBytes() throws -> Int {
        Int(clamping: try vmInfo(filling: \.phys_footprint).phys_footprint)
    }

    public func peakBytes() throws -> Int? {
        Int(clamping: try vmInfo(filling: \.ledger_phys_footprint_peak).ledger_phys_footprint_peak)
    }

    public func resetPeak() -> Bool {
        false
    }

    /// The task's VM info, once the kernel is known to have filled `field`: an older kernel fills
    /// fewer fields (the returned count says how many), and a field it left out is not a zero.
    private func vmInfo(filling field: PartialKeyPath<task_vm_info_data_t>) throws -> task_vm_info_data_t {
        var info = task_vm_info_data_t()
        let capacity = MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size
        var count = mach_msg_type_number_t(capacity)
        let status = withUnsafeMutablePointer(to: &info) { pointer in
            pointer.withMemoryRebound(to: integer_t.self, capacity: capacity) {
                task_info(taskSelf, task_flavor_t(TASK_VM_INFO), $0, &count)
            }
        }
        guard status == KERN_SUCCESS else {
            throw BenchError("task_info(TASK_VM_INFO) failed with kern_return_t \(status)")
        }
        let needed = (MemoryLayout<task_vm_info_data_t>.offset(of: field) ?? MemoryLayout<task_vm_info_data_t>.size)
            + MemoryLayout<UInt64>.size
        guard Int(count) * MemoryLayout<natural_t>.size >= needed else {
            throw BenchError("task_info(TASK_VM_INFO) filled \(count) words, too few for the footprint this probe reads")
        }
        return info
    }
}

/// This task's port, taken once: Swift 6 refuses to read `mach_task_self_`, a C global variable,
/// from concurrent code under SDKs that do not mark it `nonisolated(unsafe)`.
private let taskSelf: mach_port_t = task_self_trap()
#endif
