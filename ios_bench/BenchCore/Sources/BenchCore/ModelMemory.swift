import Foundation

/// What one model adds to the memory of the process that runs it, above the process's level just
/// before its load: a model's `memory` object in `result.v1.json`.
///
/// Its initializer and its decoder both hold it to the contract (0 <= loadBytes <= peakBytes <= 64 GiB,
/// a method of 1 to 300 characters), so the app never writes, nor reads back, a memory the runner refuses.
public struct ModelMemory: Codable, Equatable, Sendable {
    /// The schema's bound: 64 GiB, more than any phone has.
    public static let maxBytes = 64 << 30
    public static let maxMethodCharacters = 300

    public let loadBytes: Int
    public let peakBytes: Int
    /// How it was measured, in words: the counters, and how models were kept apart.
    public let method: String

    enum CodingKeys: String, CodingKey {
        case method
        case loadBytes = "load_bytes"
        case peakBytes = "peak_bytes"
    }

    public init(loadBytes: Int, peakBytes: Int, method: String) throws {
        guard (0...Self.maxBytes).contains(loadBytes) else {
            throw ContractError("load_bytes must be a whole number of bytes in 0...\(Self.maxBytes), not \(loadBytes)")
        }
        guard (loadBytes...Self.maxBytes).contains(peakBytes) else {
            throw ContractError("peak_bytes must be in load_bytes (\(loadBytes))...\(Self.maxBytes), not \(peakBytes): the peak includes the load")
        }
        // Unicode scalars, as the schema's maxLength counts characters.
        let characters = method.unicodeScalars.count
        guard (1...Self.maxMethodCharacters).contains(characters) else {
            throw ContractError("method must have 1 to \(Self.maxMethodCharacters) characters, not \(characters)")
        }
        self.loadBytes = loadBytes
        self.peakBytes = peakBytes
        self.method = method
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(
                loadBytes: container.decode(Int.self, forKey: .loadBytes),
                peakBytes: container.decode(Int.self, forKey: .peakBytes),
                method: container.decode(String.self, forKey: .method)
            )
        } catch let error as ContractError {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: container.codingPath, debugDescription: error.message))
        }
    }
}
