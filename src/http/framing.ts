// Header shapes that make a request's framing or target ambiguous, which uWebSockets.js v20.30
// passes to handlers: it reads the first of two Content-Length headers and the first of two Host
// headers. Whatever disagrees with it on where the body ends (a proxy that takes the last one)
// would see a different next request: such a request is refused (RFC 9112 6.3, 3.2). The shapes
// uWS itself refuses by closing the connection (Content-Length with Transfer-Encoding, a length
// that is not 0-999999999) never reach a handler; docs/HTTP.md lists them.
import type uWS from 'uWebSockets.js';

// One pass over the headers (uWS.js v20.30 has no header count): ~1.1 us for five headers,
// measured in docs/HTTP.md.
export function framingConflict(req: uWS.HttpRequest): string | null {
  let content_lengths = 0;
  let hosts = 0;
  req.forEach((key) => {
    // Keys arrive lower-cased.
    if (key === 'content-length') content_lengths++;
    else if (key === 'host') hosts++;
  });
  if (content_lengths > 1) return 'more than one content-length header';
  if (hosts > 1) return 'more than one host header';
  return null;
}
