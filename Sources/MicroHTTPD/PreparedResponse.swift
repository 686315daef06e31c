// Responses built inside libmicrohttpd: one per answer, or prepared once and queued for many.
private import CMicroHTTPD

/// Builds an MHD response with the body and every header of `response`.
func makeMHDResponse(_ response: HTTPResponse) -> OpaquePointer? {
    guard let mhdResponse = makeResponse(response.body) else { return nil }
    for field in response.headers {
        _ = MHD_add_response_header(mhdResponse, field.name, field.value)
    }
    return mhdResponse
}

/// A response built once inside libmicrohttpd and queued for any number of requests.
///
/// For content that many clients fetch unchanged (a playlist between two changes): the per-request
/// cost is one `MHD_queue_response`, with no allocation, no header copies and no body copy.
public final class PreparedResponse: Sendable {
    let handle: ResponseHandle
    /// The response as a value, with `prepared` pointing back here.
    public let response: HTTPResponse

    /// Builds the libmicrohttpd response (`MHD_create_response_from_buffer_with_free_callback_cls`,
    /// `MHD_add_response_header`); nil if libmicrohttpd refuses.
    public init?(_ response: HTTPResponse) {
        guard let pointer = makeMHDResponse(response) else { return nil }
        handle = ResponseHandle(pointer: pointer)
        var value = response
        value.prepared = nil
        self.response = value
    }

    /// The response to hand to the server: the value plus this prepared form.
    public var httpResponse: HTTPResponse {
        var value = response
        value.prepared = self
        return value
    }

    deinit {
        // Drops our reference; libmicrohttpd frees it once no connection is sending it.
        MHD_destroy_response(handle.pointer)
    }
}

/// An MHD response pointer. `@unchecked Sendable`: libmicrohttpd reference-counts responses under
/// its own lock, and queueing one response on many connections from many threads is supported.
struct ResponseHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Creates an MHD response over the body; shared bodies are sent without a copy.
private func makeResponse(_ body: HTTPBody) -> OpaquePointer? {
    switch body {
    case .bytes(let bytes):
        return bytes.withUnsafeBytes { buffer in
            MHD_create_response_from_buffer(
                buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress), .RESPMEM_MUST_COPY)
        }
    case .shared(let shared):
        // One retain per MHD response; released by sharedBytesReleaseTrampoline when MHD frees it.
        let retained = Unmanaged.passRetained(shared.storage).toOpaque()
        let made = MHD_create_response_from_buffer_with_free_callback_cls(
            shared.count, shared.baseAddress, sharedBytesReleaseTrampoline, retained)
        if made == nil { Unmanaged<SharedBytes.Storage>.fromOpaque(retained).release() }  // MHD refused
        return made
    }
}

/// `MHD_ContentReaderFreeCallback` for shared bodies: drops the response's reference.
private let sharedBytesReleaseTrampoline: MHD_ContentReaderFreeCallback = { cls in
    guard let cls else { return }
    Unmanaged<SharedBytes.Storage>.fromOpaque(cls).release()  // the retain taken in makeResponse
}
