import Foundation

/// The files of the resident protocol (ios_bench/README.md, "Resident mode"), all in the app's
/// Documents folder, the one folder the computer reaches through AFC (house arrest).
public struct ResidentFiles: Sendable {
    public static let inboxName = "inbox"
    public static let stopName = "stop"
    public static let heartbeatName = "resident.json"
    public static let rejectedName = "rejected"

    public let documents: URL

    public init(documents: URL) {
        self.documents = documents
    }

    /// Where the computer enqueues run directories, one `<run>.json` entry each.
    public var inbox: URL { documents.appendingPathComponent(Self.inboxName, isDirectory: true) }

    /// Its presence ends the loop after the current run.
    public var stop: URL { inbox.appendingPathComponent(Self.stopName) }

    /// The heartbeat, `resident.json`.
    public var heartbeat: URL { documents.appendingPathComponent(Self.heartbeatName) }

    /// Where an entry that could not be run is answered, under the entry's own name.
    public var rejected: URL { documents.appendingPathComponent(Self.rejectedName, isDirectory: true) }

    public func entry(_ name: String) -> URL { inbox.appendingPathComponent(name) }

    public func rejection(of entryName: String) -> URL { rejected.appendingPathComponent(entryName) }
}
