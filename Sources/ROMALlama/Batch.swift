/// One sequence's share of a forward pass: its new tokens, the KV cache they extend (its `count` is the
/// position of the first), the adapters it runs with, and which of its rows' logits are wanted.
public struct BatchSequence: Sendable {
    public var tokens: [Int]
    public var cache: KVCache
    public var adapters: AdapterSelection
    /// Rows of `tokens` whose logits the pass returns (default: the last one).
    public var logitRows: Range<Int>

    public init(tokens: [Int], cache: KVCache, adapters: AdapterSelection = .none, logitRows: Range<Int>? = nil) {
        self.tokens = tokens; self.cache = cache; self.adapters = adapters
        self.logitRows = logitRows ?? (tokens.count - 1)..<tokens.count
    }
}

/// The rows of a batch that run with one adapter selection.
public struct AdapterSpan: Sendable {
    public let rows: Range<Int>
    public let selection: AdapterSelection
    public init(rows: Range<Int>, selection: AdapterSelection) { self.rows = rows; self.selection = selection }
}

/// The unit a backend runs: the rows of several sequences stacked into one activation matrix
/// [Σ tokens, features], so that the base weights are read once for all of them (on the chip: one pass
/// over the ROM per step), while each sequence keeps its own positions, KV cache and adapters.
public struct Batch: Sendable {
    public let sequences: [BatchSequence]
    /// Rows of each sequence in the stacked matrix.
    public let rows: [Range<Int>]
    /// Position of every row (its sequence's cache count plus its index in the sequence).
    public let positions: [Int]
    /// The sequence each row belongs to.
    public let sequenceOfRow: [Int]
    /// Every row's token.
    public let tokens: [Int]
    /// The adapters of the rows that run with any.
    public let adapters: [AdapterSpan]
    /// The rows whose logits are returned, in sequence order.
    public let logitRows: [Int]

    /// Checks each sequence (tokens present, room in its cache, logit rows inside it, caches distinct).
    public init(_ sequences: [BatchSequence]) {
        precondition(!sequences.isEmpty, "a batch needs at least one sequence")
        var rows: [Range<Int>] = [], positions: [Int] = [], owner: [Int] = [], tokens: [Int] = []
        var spans: [AdapterSpan] = [], logits: [Int] = []
        var caches = Set<ObjectIdentifier>()
        for (i, s) in sequences.enumerated() {
            precondition(!s.tokens.isEmpty && s.cache.count + s.tokens.count <= s.cache.capacity,
                         "sequence \(i): \(s.tokens.count) tokens do not fit its KV cache (\(s.cache.count) of \(s.cache.capacity) used)")
            precondition(s.logitRows.lowerBound >= 0 && s.logitRows.upperBound <= s.tokens.count, "sequence \(i): logit rows outside its tokens")
            precondition(caches.insert(ObjectIdentifier(s.cache)).inserted, "two sequences of a batch share one KV cache")
            let r = tokens.count..<(tokens.count + s.tokens.count)
            rows.append(r)
            positions += (0..<s.tokens.count).map { s.cache.count + $0 }
            owner += [Int](repeating: i, count: s.tokens.count)
            tokens += s.tokens
            if !s.adapters.isEmpty { spans.append(AdapterSpan(rows: r, selection: s.adapters)) }
            logits += s.logitRows.map { r.lowerBound + $0 }
        }
        self.sequences = sequences; self.rows = rows; self.positions = positions; sequenceOfRow = owner
        self.tokens = tokens; adapters = spans; logitRows = logits
    }
}
