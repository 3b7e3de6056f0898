import BenchCore
import Foundation

/// A process's memory in fake bytes, and the probe that reads it: fake models allocate and free
/// here, so the counters move the way the kernel's would. `resetWorks` false: `resetPeak()` says no
/// (the high-water mark stays the lifetime one, `highWater` to start with); `hasPeak` false: no peak
/// counter at all. Every probe call and every allocation is logged in order.
final class FakeMemory: MemoryProbe, Sendable {
    private struct State {
        var resident: Int
        var highWater: Int
        var callsBeforeFailure: Int?
    }

    let method: String
    let peakReset: String?
    let log: CallLog
    private let resetWorks: Bool
    private let hasPeak: Bool
    private let state: Locked<State>

    init(
        resident: Int = 100 << 20,
        highWater: Int? = nil,
        method: String = "fake: resident and high-water mark",
        peakReset: String? = "the fake reset",
        resetWorks: Bool = true,
        hasPeak: Bool = true,
        log: CallLog = CallLog()
    ) {
        state = Locked(State(resident: resident, highWater: highWater ?? resident))
        self.method = method
        self.peakReset = peakReset
        self.resetWorks = resetWorks
        self.hasPeak = hasPeak
        self.log = log
    }

    /// Probe calls left before every later one throws, like a counter the system stops giving; nil: never.
    var callsBeforeFailure: Int? {
        get { state.value.callsBeforeFailure }
        set { state.mutate { $0.callsBeforeFailure = newValue } }
    }

    func allocate(_ bytes: Int) {
        log.append("allocate \(bytes)")
        state.mutate {
            $0.resident += bytes
            $0.highWater = max($0.highWater, $0.resident)
        }
    }

    func free(_ bytes: Int) {
        log.append("free \(bytes)")
        state.mutate { $0.resident -= bytes }
    }

    func residentBytes() throws -> Int {
        try call("resident") { $0.resident }
    }

    func peakBytes() throws -> Int? {
        let hasPeak = self.hasPeak
        return try call("peak") { hasPeak ? $0.highWater : nil }
    }

    func resetPeak() -> Bool {
        let resetWorks = self.resetWorks
        return (try? call("reset") { state -> Bool in
            if resetWorks {
                state.highWater = state.resident
            }
            return resetWorks
        }) ?? false
    }

    private func call<Value>(_ name: String, _ read: (inout State) -> Value) throws -> Value {
        let failing = state.mutate { state -> Bool in
            guard let left = state.callsBeforeFailure else {
                return false
            }
            state.callsBeforeFailure = max(0, left - 1)
            return left == 0
        }
        if failing {
            throw FakeFailure(errorDescription: "the footprint cannot be read")
        }
        log.append(name)
        return state.mutate(read)
    }
}

/// A model whose load allocates `loadBytes` in `memory` (after freeing `freedAtLoad`, as a system
/// reclaiming memory would) and whose first prediction allocates `scratchBytes` and frees them again.
struct AllocatingLoadable: LoadableModel {
    let name: String
    let memory: FakeMemory
    let loadBytes: Int
    let scratchBytes: Int
    var freedAtLoad = 0

    func load() async throws -> any BenchModel {
        memory.log.append("load \(name)")
        if freedAtLoad > 0 {
            memory.free(freedAtLoad)
        }
        memory.allocate(loadBytes)
        return AllocatingModel(name: name, memory: memory, scratchBytes: scratchBytes)
    }
}

final class AllocatingModel: BenchModel, Sendable {
    private let name: String
    private let memory: FakeMemory
    private let scratchBytes: Int
    private let predictions = Locked(0)

    init(name: String, memory: FakeMemory, scratchBytes: Int) {
        self.name = name
        self.memory = memory
        self.scratchBytes = scratchBytes
    }

    func predict() throws {
        let first = predictions.mutate { count in
            defer { count += 1 }
            return count == 0
        }
        if first {
            memory.log.append("first prediction \(name)")
            memory.allocate(scratchBytes)
            memory.free(scratchBytes)
        }
    }

    func computePlan() async -> ComputePlan? {
        nil
    }
}
