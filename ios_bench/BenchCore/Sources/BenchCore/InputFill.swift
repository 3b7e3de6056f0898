import Foundation

/// The values that fill a model's input, reproducible from the request's seed (SplitMix64).
///
/// Every model of a run gets the same stream, so variants of one network see the same input.
public struct InputFill {
    private var state: UInt64

    public init(seed: Int) {
        state = UInt64(bitPattern: Int64(seed))
    }

    /// The next value, uniform in [-1, 1) on a grid of 2^-23, which a float32 holds exactly.
    public mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        mixed ^= mixed >> 31
        return Float(mixed >> 40) / Float(1 << 23) - 1
    }
}
