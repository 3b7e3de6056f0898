import BenchCore
import CoreML
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

    /// `runtime.version`: Core ML ships with the OS, so the OS version says which Core ML ran.
    static func osVersion() -> String {
        let version = ProcessInfo.processInfo.operatingSystemVersion
        return "\(version.majorVersion).\(version.minorVersion).\(version.patchVersion)"
    }

    /// `runtime.libraries`: the Core ML framework's own version beside the OS's, so a LUT records
    /// both even where one OS release ships a changed framework.
    static func libraries() -> [String: String] {
        ["coreml": coreMLVersion(), "ios": osVersion()]
    }

    /// The version in CoreML.framework's Info.plist, or "unknown" where it cannot be read.
    private static func coreMLVersion() -> String {
        Bundle(for: MLModel.self).object(forInfoDictionaryKey: "CFBundleShortVersionString") as? String ?? "unknown"
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
