import HLSModel
import SegmentRegistry
import Testing

@Suite struct MemoryBudgetTests {
    @Test("reserve charges within the limit and refuses past it, counting the refusal; release gives it back")
    func reserveAndRelease() {
        let budget = MemoryBudget(limit: 1000)
        #expect(budget.reserve(600, for: .bodies))
        #expect(!budget.reserve(500, for: .held))
        #expect(budget.refused(.held) == 1)
        #expect(budget.reserve(400, for: .held))
        #expect(budget.usedTotal == 1000)
        budget.release(600, for: .bodies)
        #expect(budget.used(.bodies) == 0)
        #expect(budget.used(.held) == 400)
        #expect(budget.usedTotal == 400)
    }

    @Test("the registry's growth stops at three quarters: the last quarter stays for bodies and held reloads")
    func growthThreshold() {
        let budget = MemoryBudget(limit: 1000)
        budget.adjust(749, for: .pending)
        #expect(budget.allowsGrowth(of: .pending))
        budget.adjust(1, for: .records)
        #expect(!budget.allowsGrowth(of: .records))
        #expect(budget.refused(.records) == 1)
        #expect(budget.reserve(250, for: .bodies))
    }

    @Test("a spent budget refuses new streams and segments ahead of a hole with 503, takes in-order segments, and forgetting gives everything back")
    func registryCharges() throws {
        let budget = MemoryBudget(limit: 64 * 1024)
        let harness = Harness(
            configuration: RegistryConfiguration(windowSize: 6, idleStreamTTLMilliseconds: 10_000), budget: budget)
        let path = String(repeating: "p", count: 1000)
        try harness.register(0, path: "/a/0.ts", stream: "a")
        #expect(budget.used(.records) > 0)
        var buffered = 0
        var refusal: RegistryError?
        for sequence in UInt64(2)..<1000 {
            do {
                try harness.register(sequence, path: "/\(sequence)\(path)/s.ts", stream: "a")
                buffered += 1
            } catch let error as RegistryError {
                refusal = error
                break
            }
        }
        #expect(refusal == .memoryBudgetSpent(.pending))
        #expect(buffered > 20)
        #expect(budget.used(.pending) >= buffered * 1000)
        #expect(budget.usedTotal >= budget.limit / 4 * 3)
        #expect(throws: RegistryError.memoryBudgetSpent(.records)) { try harness.register(0, path: "/b/0.ts", stream: "b") }
        // The hole filled in order: taken, and the window slides the buffered segments out.
        // (listed, then slid out at once: every buffered segment is listed behind it)
        #expect(try harness.register(1, path: "/a/1.ts", stream: "a") == .registered(listed: false))
        #expect(try harness.listed(stream: "a") == Array(UInt64(buffered - 4)...UInt64(buffered + 1)))
        #expect(budget.used(.pending) == 0)
        #expect(try harness.register(0, path: "/b/0.ts", stream: "b") == .registered(listed: true))
        let report = harness.sweep(at: 20_000)
        #expect(report.evictions.count == 2)
        #expect(budget.usedTotal == 0)
        #expect(budget.used(.records) == 0)
    }
}
