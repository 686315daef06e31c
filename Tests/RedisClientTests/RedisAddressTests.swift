import RedisClient
import Testing

/// `STATE_STORE=redis://…` as operators write it, and what is refused.
@Suite struct RedisAddressTests {
    @Test("host, port, password (with or without a user, %-escaped) and database")
    func forms() throws {
        #expect(try RedisAddress(url: "redis://cache") == RedisAddress(host: "cache"))
        #expect(try RedisAddress(url: "redis://10.0.0.7:6380") == RedisAddress(host: "10.0.0.7", port: 6380))
        #expect(try RedisAddress(url: "redis://:s3cret@cache:6379/2") == RedisAddress(host: "cache", password: "s3cret", database: 2))
        #expect(try RedisAddress(url: "redis://orchestrator:p%40ss%3A1@cache/") == RedisAddress(host: "cache", user: "orchestrator", password: "p@ss:1"))
        #expect(try RedisAddress(url: "redis://:a@b@cache") == RedisAddress(host: "cache", password: "a@b"))
    }

    @Test("malformed addresses are refused with what is wrong, never with the password")
    func refused() throws {
        let cases: [(String, String)] = [
            ("cache:6379", "expected redis://"),
            ("redis://", "is not a host name"),
            ("redis://cache:0", "the port \"0\""),
            ("redis://cache:http", "the port \"http\""),
            ("redis://cache/x", "the database \"x\""),
            ("redis://:@cache", "password after redis:// is empty"),
            ("redis://:bad%zzsecret@cache", "invalid %-escape"),
            ("redis://ca che", "is not a host name"),
        ]
        for (url, message) in cases {
            do {
                _ = try RedisAddress(url: url)
                Issue.record("\(url) was accepted")
            } catch {
                #expect(error.description.contains(message), "\(url): \(error)")
                #expect(!error.description.contains("secret"))
            }
        }
        #expect(try RedisAddress(url: "redis://:s3cret@cache/1").description == "redis://:***@cache:6379/1")
    }
}
