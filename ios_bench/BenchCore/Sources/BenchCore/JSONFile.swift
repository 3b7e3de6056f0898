import Foundation

/// The files the app writes for the computer to pull (results, the heartbeat, rejections).
///
/// Written atomically (a temporary file, then a rename, like `orchestrator.contract.write_json_atomic`)
/// because the computer polls for them over AFC and must never read half a file; and strict JSON,
/// because `JSONEncoder` refuses NaN and infinities, which the Python reader refuses too.
enum JSONFile {
    static func write(_ value: some Encodable, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(value).write(to: url, options: .atomic)
    }
}
