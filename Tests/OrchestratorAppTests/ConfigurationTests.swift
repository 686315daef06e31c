import Logging
import OrchestratorApp
import Testing

@Suite struct ConfigurationTests {
    @Test("no variables give the documented defaults")
    func defaults() throws {
        let configuration = try AppConfiguration(environment: [:], cpuCount: 3)
        #expect(configuration.port == 8080)
        #expect(configuration.bindAddress == "0.0.0.0")
        #expect(configuration.slidingWindowSize == 6)
        #expect(configuration.targetDuration == nil)
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .json)
        #expect(configuration.httpThreads == 3)
        #expect(configuration.maxRequestBodyBytes == 16384)
        #expect(configuration.memoryBudgetMegabytes == 512)
        #expect(configuration.shutdownTimeoutSeconds == 10)
        #expect(configuration.shutdownDelaySeconds == 0)
    }

    @Test("valid values are applied; empty values keep defaults")
    func validValues() throws {
        let configuration = try AppConfiguration(
            environment: [
                "PORT": "3000", "SLIDING_WINDOW_SIZE": " 3 ", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text",
                "HTTP_THREADS": "8", "TARGET_DURATION": "4", "BIND_ADDRESS": "127.0.0.1", "SHUTDOWN_TIMEOUT": "",
                "MAX_CONNECTIONS": "50000", "MAX_CONNECTIONS_PER_IP": "64", "CONNECTION_TIMEOUT": "5",
                "SHUTDOWN_DELAY": "300",
            ], cpuCount: 2)
        #expect(configuration.port == 3000)
        #expect(configuration.slidingWindowSize == 3)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.logFormat == .text)
        #expect(configuration.httpThreads == 8)
        #expect(configuration.targetDuration == 4)
        #expect(configuration.bindAddress == "127.0.0.1")
        #expect(configuration.shutdownTimeoutSeconds == 10)
        #expect(configuration.maxConnections == 50000)
        #expect(configuration.maxConnectionsPerIP == 64)
        #expect(configuration.connectionTimeoutSeconds == 5)
        #expect(configuration.shutdownDelaySeconds == 300)
    }

    @Test(
        "an invalid value is refused with an error naming the variable",
        arguments: [
            ("PORT", "abc"), ("PORT", "-1"), ("PORT", "65536"), ("PORT", "80.5"), ("SLIDING_WINDOW_SIZE", "0"),
            ("SLIDING_WINDOW_SIZE", "ten"), ("LOG_LEVEL", "loud"), ("LOG_FORMAT", "yaml"), ("HTTP_THREADS", "0"),
            ("TARGET_DURATION", "0"), ("TARGET_DURATION", "1.5"), ("BIND_ADDRESS", "256.1.1.1"),
            ("BIND_ADDRESS", "::1"), ("MAX_REQUEST_BODY_BYTES", "10"), ("CONNECTION_TIMEOUT", "0"),
            ("SHUTDOWN_DELAY", "301"), ("SHUTDOWN_DELAY", "-1"), ("SHUTDOWN_DELAY", "1.5"), ("SHUTDOWN_DELAY", "soon"),
        ])
    func invalidValue(variable: String, value: String) {
        #expect(throws: ConfigurationError.self) {
            try AppConfiguration(environment: [variable: value], cpuCount: 2)
        }
        do {
            _ = try AppConfiguration(environment: [variable: value], cpuCount: 2)
        } catch {
            #expect(error.variable == variable)
            #expect(error.description.hasPrefix("invalid \(variable)="))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("warn and warning both mean the warning level")
    func warnAlias() throws {
        #expect(try AppConfiguration(environment: ["LOG_LEVEL": "warn"], cpuCount: 1).logLevel == .warning)
        #expect(try AppConfiguration(environment: ["LOG_LEVEL": "warning"], cpuCount: 1).logLevel == .warning)
    }
}

@Suite struct DotEnvTests {
    @Test("KEY=VALUE lines with comments, export, quotes and inline comments are read")
    func parse() throws {
        let text = """
            # a comment

            PORT=3000
            export LOG_LEVEL=debug
            LOG_FORMAT="text"
            BIND_ADDRESS='127.0.0.1'
            SLIDING_WINDOW_SIZE=4 # four segments
            TARGET_DURATION=
            """
        let values = try DotEnv.parse(text)
        #expect(
            values == [
                "PORT": "3000", "LOG_LEVEL": "debug", "LOG_FORMAT": "text", "BIND_ADDRESS": "127.0.0.1",
                "SLIDING_WINDOW_SIZE": "4", "TARGET_DURATION": "",
            ])
    }

    @Test("a line that is not KEY=VALUE is reported with its number")
    func malformed() {
        #expect(throws: ConfigurationError.self) { try DotEnv.parse("PORT=1\nthis is wrong\n") }
        do {
            _ = try DotEnv.parse("PORT=1\nthis is wrong\n")
        } catch {
            #expect(error.variable == ".env line 2")
        }
    }

    @Test("the process environment wins over .env")
    func merge() {
        let merged = DotEnv.merge(dotEnv: ["PORT": "1", "LOG_LEVEL": "debug"], environment: ["PORT": "2"])
        #expect(merged == ["PORT": "2", "LOG_LEVEL": "debug"])
    }
}
