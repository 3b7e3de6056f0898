import Foundation

/// One run directory waiting in the inbox: the file `inbox/<run>.json`, which holds exactly
/// `{"run_dir": "runs/<run>"}` (a path relative to Documents).
struct InboxEntry: Equatable, Sendable {
    static let suffix = ".json"

    /// The entry's file name, `<run>.json`.
    let name: String
    /// The run directory to serve, relative to Documents (not yet checked; `RunDirectory` does that).
    let runDirectory: String

    /// The name the heartbeat reports while the entry runs: its file name without `.json`.
    var run: String { String(name.dropLast(Self.suffix.count)) }

    /// The names of the waiting entries, in name order: every `*.json` whose name does not start
    /// with a dot. A dot marks a file the computer is still writing (`.<run>.json.tmp`, renamed
    /// into place when complete), which must not be read half-written. Nothing when the inbox does
    /// not exist yet.
    static func waiting(in inbox: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: inbox.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0.hasSuffix(suffix) && $0 != suffix }.sorted()
    }

    /// Reads and checks an entry; throws a `ContractError` that says what is wrong with it.
    static func read(_ url: URL) throws -> InboxEntry {
        let name = url.lastPathComponent
        let source = "\(ResidentFiles.inboxName)/\(name)"
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ContractError("\(source) cannot be read (\(error.localizedDescription))")
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: data) else {
            throw ContractError("\(source) is not JSON")
        }
        func refuse(_ problem: String) -> ContractError {
            ContractError("\(source) is not a valid inbox entry (\(problem))")
        }
        guard let object = parsed as? [String: Any] else {
            throw refuse("it must be an object like {\"run_dir\": \"runs/N\"}")
        }
        if let unexpected = object.keys.sorted().first(where: { $0 != "run_dir" }) {
            throw refuse("Additional properties are not allowed ('\(unexpected)' was unexpected)")
        }
        guard let value = object["run_dir"] else {
            throw refuse("'run_dir' is a required property")
        }
        guard let runDirectory = value as? String else {
            throw refuse("'run_dir' must be a string")
        }
        return InboxEntry(name: name, runDirectory: runDirectory)
    }
}
