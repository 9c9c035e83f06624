import Foundation
import Hummingbird
import NIOHTTP1
import Testing
import TensorLog
import TensorLogServer

/// One operation: an upper-case HTTP method and an OpenAPI path template (`/v1/tensors/{key}`).
struct RouteOperation: Hashable, Comparable, CustomStringConvertible {
    let method: String
    let path: String

    var description: String { "\(method) \(path)" }
    static func < (a: Self, b: Self) -> Bool { (a.path, a.method) < (b.path, b.method) }
}

/// docs/openapi.json, found from this file's path (Tests/TensorLogServerTests/ -> the package root).
func loadOpenAPIDocument(filePath: String = #filePath) throws -> [String: Any] {
    let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let data = try Data(contentsOf: root.appendingPathComponent("docs/openapi.json"))
    guard let document = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw ServerTestFailure("docs/openapi.json is not a JSON object")
    }
    return document
}

let openAPIMethods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

/// Every (method, path) pair the document describes.
func specOperations(_ document: [String: Any]) throws -> Set<RouteOperation> {
    guard let paths = document["paths"] as? [String: Any] else { throw ServerTestFailure("docs/openapi.json has no paths") }
    var operations = Set<RouteOperation>()
    for (path, item) in paths {
        guard let item = item as? [String: Any] else { throw ServerTestFailure("path item \(path) is not an object") }
        for method in openAPIMethods where item[method] != nil {
            operations.insert(RouteOperation(method: method.uppercased(), path: path))
        }
    }
    return operations
}

/// A store and a server object (no socket) for reading the router.
func withRouter(_ body: (Router<BasicRequestContext>) throws -> Void) throws {
    let directory = NSTemporaryDirectory() + "tensorlog-openapi-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try TensorStore.open(at: directory)
    defer { try? store.close() }
    try body(try TensorLogServer(store: store, configuration: ServerConfiguration()).makeRouter())
}

/// A concrete path for a template: `{key}` is a key with a raw slash, `{id}` a job id.
func concretePath(_ template: String, key: String = "data/x") -> String {
    template.replacingOccurrences(of: "{key}", with: key).replacingOccurrences(of: "{id}", with: "job-1")
}

@Suite("docs/openapi.json describes the server")
struct OpenAPIDocumentTests {
    @Test("the document is OpenAPI 3 with a bearer scheme, every operation has an id and a 2xx response, and every $ref resolves")
    func wellFormed() throws {
        let document = try loadOpenAPIDocument()
        #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
        let components = try #require(document["components"] as? [String: Any])
        let schemes = try #require(components["securitySchemes"] as? [String: Any])
        let bearer = try #require(schemes["bearer"] as? [String: Any])
        #expect(bearer["scheme"] as? String == "bearer")

        let paths = try #require(document["paths"] as? [String: Any])
        var ids = Set<String>()
        for operation in try specOperations(document) {
            let item = try #require((paths[operation.path] as? [String: Any])?[operation.method.lowercased()] as? [String: Any])
            let id = try #require(item["operationId"] as? String, "\(operation)")
            #expect(ids.insert(id).inserted, "operationId \(id) is used twice")
            let responses = try #require(item["responses"] as? [String: Any], "\(operation)")
            #expect(responses.keys.contains { $0.hasPrefix("2") }, "\(operation) documents no success")
            #expect(responses["500"] != nil, "\(operation) documents no 500")
            // Only the health check is public; the rest document the 401 of a server with a token.
            let isPublic = (item["security"] as? [Any])?.isEmpty == true
            #expect(isPublic == (operation.path == "/v1/health"), "\(operation)")
            #expect((responses["401"] != nil) == !isPublic, "\(operation)")
        }

        // Every reference points at something.
        func check(_ value: Any) {
            if let object = value as? [String: Any] {
                if let reference = object["$ref"] as? String {
                    let parts = reference.split(separator: "/").dropFirst().map(String.init)
                    var target: Any? = document
                    for part in parts { target = (target as? [String: Any])?[part] }
                    #expect(reference.hasPrefix("#/") && target != nil, "dangling \(reference)")
                }
                object.values.forEach(check)
            } else if let array = value as? [Any] {
                array.forEach(check)
            }
        }
        check(document)
    }

    @Test("the document's operations are exactly the routes the server registers")
    func operationsMatchRouter() throws {
        let specified = try specOperations(try loadOpenAPIDocument())
        try withRouter { router in
            var served = Set<RouteOperation>()
            for route in router.routes {
                // `**` (the rest of the path) is the key; captures are already `{name}`.
                let path = route.path.description.replacingOccurrences(of: "**", with: "{key}")
                served.insert(RouteOperation(method: route.method.rawValue, path: path))
            }
            #expect(!served.isEmpty)
            let undocumented = served.subtracting(specified).sorted()
            let unserved = specified.subtracting(served).sorted()
            #expect(undocumented.isEmpty, "served but not in docs/openapi.json: \(undocumented)")
            #expect(unserved.isEmpty, "in docs/openapi.json but not served: \(unserved)")
        }
    }

    @Test("a live server routes every documented operation and no other method on a documented path")
    func liveServerRoutes() async throws {
        let specified = try specOperations(try loadOpenAPIDocument())
        try await withServer { server in
            // What an unrouted request gets, and proof that it differs from a handler's 404.
            let unrouted = try await server.raw(.GET, "/v1/no-such-route")
            #expect(unrouted.status == 404)
            let unroutedMessage = try #require(LiveServer.errorDetail(unrouted.body)?.message)
            let missingKey = try await server.raw(.GET, "/v1/tensors/no-such-key")
            #expect(missingKey.status == 404)
            #expect(LiveServer.errorDetail(missingKey.body)?.message != unroutedMessage, "a missing key must be told apart from a missing route")
            let missingJob = try await server.raw(.GET, "/v1/jobs/job-999")
            #expect(LiveServer.errorDetail(missingJob.body)?.message != unroutedMessage, "a missing job must be told apart from a missing route")

            // A tensor, so that GET of a key path answers 200 (a HEAD response has no body to tell a missing
            // route from a missing key: HEAD is checked only where GET of the same path succeeds).
            try await server.client.put("data/x", randomTensor([2, 3], seed: 1))

            func isUnrouted(_ method: HTTPMethod, _ path: String) async throws -> Bool {
                let body: [UInt8]? = method == .PUT || method == .POST ? Array("{}".utf8) : nil
                let response = try await server.raw(method, path, body: body, headers: [("Content-Type", "application/json")])
                if method == .HEAD { return response.status == 404 }
                return response.status == 404 && LiveServer.errorDetail(response.body)?.message == unroutedMessage
            }
            func getSucceeds(_ path: String) async throws -> Bool { try await server.raw(.GET, path).status == 200 }

            for operation in specified.sorted() {
                let method = HTTPMethod(rawValue: operation.method)
                for key in ["data/x", "data%2Fx", "x"] where operation.path.contains("{key}") || key == "x" {
                    let path = concretePath(operation.path, key: key)
                    #expect(try await !isUnrouted(method, path), "\(operation) (as \(method) \(path)) is not routed")
                }
            }

            // Other methods on documented paths, and undocumented paths, are not routed.
            let paths = Set(specified.map(\.path))
            let methods = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"]
            for path in paths.sorted() {
                for method in methods where !specified.contains(RouteOperation(method: method, path: path)) {
                    if method == "HEAD", try await !getSucceeds(concretePath(path)) { continue }
                    #expect(try await isUnrouted(HTTPMethod(rawValue: method), concretePath(path)), "\(method) \(path) is routed but not documented")
                }
            }
            for path in ["/", "/v1", "/v1/", "/v2/tensors", "/v1/tensor/x", "/v1/jobs/job-1/cancel", "/v1/append", "/v1/infer/x"] {
                for method in methods where method != "HEAD" {
                    #expect(try await isUnrouted(HTTPMethod(rawValue: method), path), "\(method) \(path) is routed but not documented")
                }
            }
        }
    }
}
