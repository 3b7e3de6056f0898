import Foundation

/// The phone's thermal state, by the names of `ProcessInfo.ThermalState`.
///
/// iOS throttles the chip at `serious` and `critical`, so the runner on the computer waits for
/// `nominal` or `fair` before it starts a session, and distrusts a session that ended hotter.
public enum ThermalState: String, Codable, Sendable, CaseIterable {
    case nominal, fair, serious, critical

    /// The state now; nil where Foundation reports none (Linux, where the tests run) and for a state
    /// newer than this build knows, rather than a name the contract does not have.
    public static func current() -> ThermalState? {
        #if os(iOS) || os(macOS)
        switch ProcessInfo.processInfo.thermalState {
        case .nominal:
            return .nominal
        case .fair:
            return .fair
        case .serious:
            return .serious
        case .critical:
            return .critical
        @unknown default:
            return nil
        }
        #else
        return nil
        #endif
    }
}
