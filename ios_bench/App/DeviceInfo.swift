import BenchCore
import Foundation

/// The phone's facts for `result.json`.
enum DeviceInfo {
    static func facts() -> DeviceFacts {
        DeviceFacts(
            platform: "ios",
            model: modelIdentifier(),
            os: "iOS \(osVersion())",
            cores: ProcessInfo.processInfo.processorCount
        )
    }

    /// Also the Core ML version: Core ML ships with the OS and has no version of its own.
    static func osVersion() -> String {
        let version = ProcessInfo.processInfo.operatingSystemVersion
        return "\(version.majorVersion).\(version.minorVersion).\(version.patchVersion)"
    }

    /// The hardware identifier ("iPhone15,2"), which names the chip; `UIDevice.model` only says "iPhone".
    private static func modelIdentifier() -> String {
        var system = utsname()
        uname(&system)
        return withUnsafeBytes(of: &system.machine) { bytes in
            String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
