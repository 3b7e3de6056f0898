import Foundation

/// A request or result that does not follow the contract; the message says where and why, in the
/// words `orchestrator.contract.validate` uses, so a refusal reads the same from every runner.
public struct ContractError: Error, LocalizedError, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var errorDescription: String? { message }
}

extension BenchRequest {
    public static let backends = ["pte", "coreml"]
    public static let computeUnitNames = ["all", "cpuOnly", "cpuAndGPU", "cpuAndNeuralEngine"]

    /// Reads `request.json` from a run directory.
    public static func read(from url: URL) throws -> BenchRequest {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ContractError("\(url.lastPathComponent) cannot be read (\(error.localizedDescription))")
        }
        return try decode(data, source: url.lastPathComponent)
    }

    /// Parses and validates a request against every rule of `request.v1.json`.
    ///
    /// Decoding catches missing keys and wrong types; the schema's other rules (constants, enums,
    /// minimums, no unknown keys) are checked after it, because `JSONDecoder` does not know them.
    public static func decode(_ data: Data, source: String) throws -> BenchRequest {
        func refuse(_ path: String, _ problem: String) -> ContractError {
            ContractError("\(source) is not a valid request (at \(path.isEmpty ? "top level" : path): \(problem))")
        }
        let request: BenchRequest
        do {
            request = try JSONDecoder().decode(BenchRequest.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw refuse(jsonPath(context.codingPath), "'\(key.stringValue)' is a required property")
        } catch let DecodingError.typeMismatch(_, context) {
            throw refuse(jsonPath(context.codingPath), context.debugDescription)
        } catch let DecodingError.valueNotFound(_, context) {
            throw refuse(jsonPath(context.codingPath), context.debugDescription)
        } catch let DecodingError.dataCorrupted(context) {
            throw refuse(jsonPath(context.codingPath), context.debugDescription)
        }
        if let problem = unknownKey(in: data) {
            throw refuse(problem.path, "Additional properties are not allowed ('\(problem.key)' was unexpected)")
        }
        if let problem = request.ruleViolation() {
            throw refuse(problem.path, problem.message)
        }
        return request
    }

    /// The first value that breaks a rule of the schema, in the schema's order.
    func ruleViolation() -> (path: String, message: String)? {
        if schema != Self.schemaName {
            return ("schema", "'\(Self.schemaName)' was expected")
        }
        if version != contractVersion {
            return ("version", "\(contractVersion) was expected")
        }
        if runId.isEmpty {
            return ("run_id", "'' should be non-empty")
        }
        if !Self.backends.contains(backend) {
            return ("backend", "'\(backend)' is not one of [\(quoted(Self.backends))]")
        }
        if models.isEmpty {
            return ("models", "[] should be non-empty")
        }
        for (index, model) in models.enumerated() {
            if let problem = model.ruleViolation() {
                return ("models/\(index)/\(problem.path)", problem.message)
            }
        }
        if threads < 0 {
            return ("threads", "\(threads) is less than the minimum of 0")
        }
        if let units = computeUnits, !Self.computeUnitNames.contains(units) {
            return ("compute_units", "'\(units)' is not one of [None, \(quoted(Self.computeUnitNames))]")
        }
        if let problem = warmup.ruleViolation(minimumRuns: 0) {
            return ("warmup/\(problem.path)", problem.message)
        }
        if let problem = measure.ruleViolation(minimumRuns: 1) {
            return ("measure/\(problem.path)", problem.message)
        }
        if burst < 1 {
            return ("measure/burst", "\(burst) is less than the minimum of 1")
        }
        if burst > 100 {
            return ("measure/burst", "\(burst) is greater than the maximum of 100")
        }
        if let cooldown = cooldownS, cooldown < 0 {
            return ("cooldown_s", "\(cooldown) is less than the minimum of 0")
        }
        return nil
    }
}

extension ModelSpec {
    func ruleViolation() -> (path: String, message: String)? {
        if id.isEmpty {
            return ("id", "'' should be non-empty")
        }
        if inputShape.isEmpty {
            return ("input_shape", "[] should be non-empty")
        }
        if let index = inputShape.firstIndex(where: { $0 < 1 }) {
            return ("input_shape/\(index)", "\(inputShape[index]) is less than the minimum of 1")
        }
        return nil
    }
}

extension Phase {
    func ruleViolation(minimumRuns: Int) -> (path: String, message: String)? {
        if runs < minimumRuns {
            return ("runs", "\(runs) is less than the minimum of \(minimumRuns)")
        }
        if seconds < 0 {
            return ("seconds", "\(seconds) is less than the minimum of 0")
        }
        return nil
    }
}

/// The schema's `additionalProperties: false`, which `JSONDecoder` ignores: a misspelt optional key
/// (say `input_nmae`) must be refused rather than silently fall back to a default.
private func unknownKey(in data: Data) -> (path: String, key: String)? {
    guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        return nil
    }
    if let key = firstUnknownKey(top, allowed: BenchRequest.CodingKeys.allCases.map(\.rawValue)) {
        return ("", key)
    }
    for (index, model) in (top["models"] as? [[String: Any]] ?? []).enumerated() {
        if let key = firstUnknownKey(model, allowed: ModelSpec.CodingKeys.allCases.map(\.rawValue)) {
            return ("models/\(index)", key)
        }
    }
    let phaseKeys = Phase.CodingKeys.allCases.map(\.rawValue)
    let phases = [("warmup", phaseKeys), ("measure", phaseKeys + [BenchRequest.MeasureKeys.burst.rawValue])]
    for (phase, allowed) in phases {
        if let object = top[phase] as? [String: Any], let key = firstUnknownKey(object, allowed: allowed) {
            return (phase, key)
        }
    }
    return nil
}

private func firstUnknownKey(_ object: [String: Any], allowed: [String]) -> String? {
    object.keys.sorted().first { !allowed.contains($0) }
}

/// A decoding path in the orchestrator's notation: `models/0/input_shape`.
private func jsonPath(_ codingPath: [CodingKey]) -> String {
    codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/")
}

/// Names as Python prints a list's items, so messages match jsonschema's: `'pte', 'coreml'`.
private func quoted(_ names: [String]) -> String {
    names.map { "'\($0)'" }.joined(separator: ", ")
}
