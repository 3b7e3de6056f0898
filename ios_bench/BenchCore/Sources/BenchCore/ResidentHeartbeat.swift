import Foundation

/// `resident.json`, the resident loop's heartbeat, as `orchestrator/measure/schemas/resident.v1.json`
/// defines it.
///
/// The computer judges liveness by `beat` changing between two of its reads (the phone's clock and
/// the computer's differ, so the times are only for people), and starts a session only at a
/// thermal state below `serious`.
public struct ResidentHeartbeat: Codable, Equatable, Sendable {
    public static let schemaName = "autovit-bench/resident"

    public enum State: String, Codable, Sendable {
        /// Waiting for an inbox entry.
        case idle
        /// Serving the entry named in `run`.
        case running
        /// The loop has ended; the idle timer is back to what it was.
        case stopped
    }

    public var schema: String
    public var version: Int
    /// 1 at the first write of a loop, one more at every write.
    public var beat: Int
    public var state: State
    /// The entry being served (its file name without `.json`) while `running`, else nil.
    public var run: String?
    /// Entries answered with a `result.json` (status ok or error) since the loop started.
    public var completed: Int
    public var thermalState: ThermalState?
    public var idleTimerDisabled: Bool
    public var startedAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case schema, version, beat, state, run, completed
        case thermalState = "thermal_state"
        case idleTimerDisabled = "idle_timer_disabled"
        case startedAt = "started_at"
        case updatedAt = "updated_at"
    }

    public init(
        beat: Int, state: State, run: String?, completed: Int, thermalState: ThermalState?,
        idleTimerDisabled: Bool, startedAt: String, updatedAt: String
    ) {
        schema = Self.schemaName
        version = contractVersion
        self.beat = beat
        self.state = state
        self.run = run
        self.completed = completed
        self.thermalState = thermalState
        self.idleTimerDisabled = idleTimerDisabled
        self.startedAt = startedAt
        self.updatedAt = updatedAt
    }

    /// Written by hand because the schema requires `run` and `thermal_state` even when they are
    /// null, and the synthesized encoder leaves out nil optionals.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schema, forKey: .schema)
        try container.encode(version, forKey: .version)
        try container.encode(beat, forKey: .beat)
        try container.encode(state, forKey: .state)
        try container.encode(run, forKey: .run)
        try container.encode(completed, forKey: .completed)
        try container.encode(thermalState, forKey: .thermalState)
        try container.encode(idleTimerDisabled, forKey: .idleTimerDisabled)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}
