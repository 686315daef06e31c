/// Puts a Prometheus text exposition in a stable order: metric families sorted by name, and the
/// series of each family by their labels (`le` aside, so a histogram's buckets, `_sum` and
/// `_count` stay together and in order).
///
/// swift-prometheus keeps its metrics in dictionaries, so two scrapes list them in different
/// orders; people reading `/metrics` and tools diffing it want the same order every time.
enum PrometheusExposition {
    /// `exposition` sorted; the lines themselves are unchanged.
    /// - Complexity: O(*n* log *n*) in the number of lines.
    static func sorted(_ exposition: [UInt8]) -> [UInt8] {
        let text = String(decoding: exposition, as: UTF8.self)
        var families: [Family] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#") {
                // `# HELP name …` or `# TYPE name …`: a new family unless it names the current one.
                let words = line.split(separator: " ", maxSplits: 3)
                guard words.count >= 3 else { continue }
                let name = String(words[2])
                if families.last?.name != name { families.append(Family(name: name)) }
                families[families.count - 1].comments.append(line)
                continue
            }
            if families.isEmpty { families.append(Family(name: sampleName(line))) }
            let key = seriesKey(line)
            if families[families.count - 1].series.last?.key != key {
                families[families.count - 1].series.append(Series(key: key))
            }
            families[families.count - 1].series[families[families.count - 1].series.count - 1].lines.append(line)
        }
        var output: [UInt8] = []
        output.reserveCapacity(exposition.count)
        for family in families.sorted(by: { $0.name < $1.name }) {
            for line in family.comments { append(line, to: &output) }
            for series in family.series.sorted(by: { $0.key < $1.key }) {
                for line in series.lines { append(line, to: &output) }
            }
        }
        return output
    }

    private struct Family {
        var name: String
        var comments: [Substring] = []
        var series: [Series] = []
    }

    private struct Series {
        var key: String
        var lines: [Substring] = []
    }

    private static func append(_ line: Substring, to output: inout [UInt8]) {
        output.append(contentsOf: line.utf8)
        output.append(UInt8(ascii: "\n"))
    }

    /// The metric name of a sample line (up to `{` or a space).
    private static func sampleName(_ line: Substring) -> String {
        String(line.prefix { $0 != "{" && $0 != " " })
    }

    /// What tells the series of one family apart: the labels of a sample line without `le`.
    static func seriesKey(_ line: Substring) -> String {
        guard let open = line.firstIndex(of: "{") else { return "" }
        var key = ""
        var label = ""
        var inValue = false
        var escaped = false
        var index = line.index(after: open)
        while index < line.endIndex {
            let character = line[index]
            index = line.index(after: index)
            if inValue {
                label.append(character)
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inValue = false
                }
                continue
            }
            switch character {
            case "\"":
                label.append(character)
                inValue = true
            case ",", "}":
                if !label.hasPrefix("le=") { key += (key.isEmpty ? "" : ",") + label }
                label = ""
                if character == "}" { return key }
            default:
                label.append(character)
            }
        }
        return key
    }
}
