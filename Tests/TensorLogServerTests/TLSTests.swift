import AsyncHTTPClient
import Foundation
import Testing
import TensorLog
import TensorLogClient
import TensorLogServer

/// A self-signed certificate for 127.0.0.1 made by the openssl command line.
func selfSignedCertificate(in directory: String) throws -> (certificate: String, key: String) {
    let certificate = directory + "/cert.pem", key = directory + "/key.pem"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw ServerTestFailure("openssl req failed (\(process.terminationStatus))") }
    return (certificate, key)
}

@Suite("HTTPS")
struct TLSTests {
    @Test("a server with a certificate speaks HTTPS: a client trusting it works, plain HTTP and untrusting clients get nothing")
    func https() async throws {
        let directory = NSTemporaryDirectory() + "tensorlog-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (certificate, key) = try selfSignedCertificate(in: directory)
        try await withServer({ $0.tls = (certificate, key); $0.token = "tls-token" }) { server in
            let secure = try TensorLogClient(baseURL: "https://127.0.0.1:\(server.port)", token: "tls-token", caFile: certificate)
            let tensor = randomTensor([16, 4], seed: 11)
            try await secure.put("over/tls", tensor)
            #expect(try await secure.get("over/tls").bytes == tensor.bytes)

            // Without the certificate among its trust roots, a client refuses the server (AsyncHTTPClient
            // retries the connection until the request's deadline, hence the short one).
            let untrusting = try TensorLogClient(baseURL: "https://127.0.0.1:\(server.port)", token: "tls-token", timeoutSeconds: 3)
            await #expect(throws: RemoteError.self) { try await untrusting.stat() }
            // Plain HTTP to the TLS port gets no HTTP response.
            let plain = try TensorLogClient(baseURL: "http://127.0.0.1:\(server.port)", token: "tls-token", timeoutSeconds: 20)
            await #expect(throws: RemoteError.self) { try await plain.stat() }
        }
        // A missing key file is an error at start, naming the files.
        var configuration = ServerConfiguration()
        configuration.tls = (certificate, directory + "/missing.pem")
        let store = try TensorStore.open(at: directory + "/store")
        defer { try? store.close() }
        let server = try TensorLogServer(store: store, configuration: configuration)
        #expect(throws: APIError.self) { try server.makeServiceGroup() }
    }
}
