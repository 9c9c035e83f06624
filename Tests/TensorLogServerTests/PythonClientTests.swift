import Foundation
import Testing
import TensorLog
import TensorLogServer

/// A client in Python with nothing but the standard library's HTTP (urllib.request), numpy and
/// safetensors, as a data scientist's notebook would talk to the server.
/// Prints one JSON line of results for the Swift side to check.
let pythonClientScript = #"""
import io, json, sys, time, urllib.error, urllib.request
try:
    import numpy as np
    from safetensors.numpy import load as load_safetensors
except ImportError as error:
    print(f"missing package: {error}")
    sys.exit(3)

base, token = sys.argv[1], sys.argv[2]

def request(method, path, body=None, content_type=None):
    req = urllib.request.Request(base + path, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read()

def call_json(method, path, value=None, expect=200):
    body = None if value is None else json.dumps(value).encode()
    status, kind, data = request(method, path, body, "application/json" if body is not None else None)
    if status != expect:
        raise SystemExit(f"{method} {path}: {status} {data[:300]!r}")
    assert kind == "application/json", kind
    return json.loads(data)

def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()

def put_npy(key, array):
    status, _, data = request("PUT", "/v1/tensors/" + key, npy_bytes(array), "application/x-npy")
    if status != 201:
        raise SystemExit(f"PUT {key}: {status} {data[:300]!r}")
    return json.loads(data)

def get_npy(key, query=""):
    status, kind, data = request("GET", "/v1/tensors/" + key + query)
    if status != 200:
        raise SystemExit(f"GET {key}{query}: {status} {data[:300]!r}")
    assert kind == "application/x-npy", kind
    return np.load(io.BytesIO(data))

results = {}
rng = np.random.default_rng(7)

# A tensor through .npy both ways, then as .safetensors, then a row range.
matrix = rng.standard_normal((50, 6)).astype(np.float32)
written = put_npy("py/matrix", matrix)
results["put_shape"] = written["tensor"]["shape"]
results["npy_equal"] = bool(np.array_equal(get_npy("py/matrix"), matrix))
status, kind, data = request("GET", "/v1/tensors/py%2Fmatrix?format=safetensors")
assert status == 200 and kind == "application/x-safetensors", (status, kind)
loaded = load_safetensors(data)
results["safetensors_names"] = sorted(loaded)
results["safetensors_equal"] = bool(np.array_equal(loaded["py/matrix"], matrix))
rows = get_npy("py/matrix", "?rows=10:13")
results["rows_shape"] = list(rows.shape)
results["rows_equal"] = bool(np.array_equal(rows, matrix[10:13]))

# Rows appended as JSON: the first append creates a float32 series.
call_json("POST", "/v1/append/py/series", {"rows": [[1.5, 2.0], [1.75, 2.25]]})
appended = call_json("POST", "/v1/append/py/series", {"rows": [[3.0, 4.0]]})
results["append_shape"] = appended["tensor"]["shape"]
results["series"] = get_npy("py/series").tolist()

# A small synthetic data set: three separable blobs in 4 dimensions.
labels = np.arange(300) % 3
features = rng.uniform(-1, 1, (300, 4)).astype(np.float32)
features[np.arange(300), labels] += 4
put_npy("py/x", features)
put_npy("py/y", labels.astype(np.int64))

job = call_json("POST", "/v1/jobs", {"model": "softmax", "save": "py/model", "data": "py/x", "labels": "py/y",
                                     "epochs": 4, "batch_size": 32, "lr": 0.05, "optimizer": "sgd"}, expect=202)
results["job_state_at_start"] = job["state"]
deadline = time.monotonic() + 120
while job["state"] == "running" and time.monotonic() < deadline:
    time.sleep(0.05)
    job = call_json("GET", "/v1/jobs/" + job["id"])
results["job_state"] = job["state"]
results["job_error"] = job.get("error")
results["job_epochs"] = [epoch["epoch"] for epoch in job["epochs"]]
results["job_losses_fall"] = job["epochs"][-1]["loss"] < job["epochs"][0]["loss"]
results["job_result"] = job.get("result")

scores = call_json("POST", "/v1/eval", {"model": "py/model", "data": "py/x", "labels": "py/y"})
results["eval_task"] = scores["task"]
results["eval_rows"] = scores["rows"]
results["eval_accuracy"] = scores["accuracy"]

inferred = call_json("POST", "/v1/infer", {"model": "py/model", "data": "py/x", "output": "py/predicted"})
results["infer_rows"] = inferred["rows"]
results["infer_shape"] = inferred["shape"]
predicted = get_npy("py/predicted")
results["predicted_dtype"] = str(predicted.dtype)
results["predicted_accuracy"] = float(np.mean(predicted == labels))

# Errors are JSON with a code.
status, kind, data = request("GET", "/v1/tensors/py/nothing")
results["missing_status"] = status
results["missing_code"] = json.loads(data)["error"]["code"]
print("RESULT " + json.dumps(results))
"""#

@Suite("A Python client with urllib, numpy and safetensors")
struct PythonClientTests {
    @Test("uploads, downloads as .npy and .safetensors, appends JSON rows, trains, evaluates and predicts")
    func pythonClient() async throws {
        let token = "py-" + UUID().uuidString
        try await withServer({ $0.token = token }) { server in
            let directory = server.directory + "-python"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let baseURL = server.baseURL
            let output = try await onOwnThread {
                try runPython(pythonClientScript, named: "client.py", arguments: [baseURL, token], directory: directory)
            }
            let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("RESULT ") }, "no RESULT line in:\n\(output)")
            let data = Data(line.dropFirst("RESULT ".count).utf8)
            let results = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])

            #expect(results["put_shape"] as? [Int] == [50, 6])
            #expect(results["npy_equal"] as? Bool == true)
            #expect(results["safetensors_names"] as? [String] == ["py/matrix"])
            #expect(results["safetensors_equal"] as? Bool == true)
            #expect(results["rows_shape"] as? [Int] == [3, 6])
            #expect(results["rows_equal"] as? Bool == true)

            #expect(results["append_shape"] as? [Int] == [3, 2])
            #expect(results["series"] as? [[Double]] == [[1.5, 2.0], [1.75, 2.25], [3.0, 4.0]])

            #expect(results["job_state_at_start"] as? String == "running")
            #expect(results["job_state"] as? String == "succeeded", "\(results["job_error"] ?? "")")
            #expect(results["job_epochs"] as? [Int] == [1, 2, 3, 4])
            #expect(results["job_losses_fall"] as? Bool == true)
            #expect(results["job_result"] as? [String: String] == ["model": "py/model", "epochs_completed": "4"])

            #expect(results["eval_task"] as? String == "classification")
            #expect(results["eval_rows"] as? Int == 300)
            let accuracy = try #require(results["eval_accuracy"] as? Double)
            #expect(accuracy > 0.95)
            #expect(results["infer_rows"] as? Int == 300)
            #expect(results["infer_shape"] as? [Int] == [300])
            #expect(results["predicted_dtype"] as? String == "int32")
            // The predictions fetched as .npy score what the server's eval reported.
            #expect(results["predicted_accuracy"] as? Double == accuracy)
            #expect(results["missing_status"] as? Int == 404)
            #expect(results["missing_code"] as? String == "not_found")

            // What Python wrote is in the store.
            let snapshot = server.store.snapshot()
            #expect(try snapshot.info("py/series").shape == [3, 2])
            #expect(try snapshot.read("py/series").values(as: Float.self) == [1.5, 2.0, 1.75, 2.25, 3.0, 4.0])
            #expect(snapshot.contains("py/model/config"))
        }
    }
}

/// Runs blocking work (a child process) on a thread of its own, so the cooperative threads
/// stay free to serve the requests that work makes.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
