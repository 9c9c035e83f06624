import TensorLog

/// How `tensorlog serve` exposes a store. Defaults suit a storage node on a trusted
/// network; binding to anything but loopback requires `token`.
public struct ServerConfiguration: Sendable {
    /// Address to bind: `127.0.0.1` (default), `::1`, `0.0.0.0`, or a host name.
    public var host = "127.0.0.1"
    /// TCP port; 0 picks a free one (reported through `TensorLogServer.onListening`).
    public var port = 8676
    /// The bearer token every request but `GET /v1/health` must carry
    /// (`Authorization: Bearer <token>`). Required unless `host` is a loopback address.
    public var token: String?
    /// Largest tensor body accepted by a put, append or predict (413 above it).
    public var maxBodyBytes = 64 << 30
    /// Largest JSON body (job and inference requests).
    public var maxJSONBytes = 1 << 20
    /// Training jobs running at once; more are refused with 429 until one ends.
    public var maxJobs = 2
    /// Time a handler may take to produce its response head (408 after it). Streaming a
    /// tensor body out is bounded by `idleSeconds` instead, so a large download is never cut off.
    public var requestSeconds = 600
    /// A connection on which no byte moves for this long is closed.
    public var idleSeconds = 120
    /// When a write over the network is on stable storage before it is acknowledged.
    /// The default makes every acknowledged put, append and delete survive a crash.
    public var durability = Durability.everyWrite
    /// Serve HTTPS with this certificate chain and private key (PEM files); plain HTTP when nil.
    /// A bearer token sent over plain HTTP off this machine can be read on the way: use TLS there.
    public var tls: (certificateChain: String, privateKey: String)?
    /// Where request bodies are spooled before they are written to the store
    /// (default: `.spool` inside the store directory, on the same file system).
    public var spoolDirectory: String?

    public init() {}

    /// Whether `host` only accepts connections from this machine.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
