// How the front answers: at once (inside the request handler), or later through a pending
// answer. uWebSockets.js v20.30 closes a connection when it parses a request while an earlier
// answer on it is still pending, so a pending answer stops reading its connection until it is
// sent (docs/HTTP.md, "Pipelining").
import assert from 'node:assert/strict';
import type uWS from 'uWebSockets.js';

export const JSON_MEDIA_TYPE = 'application/json';

export const STATUS_LINE: Readonly<Record<number, string>> = {
  200: '200 OK',
  202: '202 Accepted',
  400: '400 Bad Request',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

function statusLine(status: number): string {
  const line = STATUS_LINE[status];
  assert(line !== undefined, `no status line for ${status}`);
  return line;
}

// Inside a request handler the socket is already corked; elsewhere cork() batches the writes.
export function sendJson(res: uWS.HttpResponse, status: number, body: string, close_connection = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('Content-Type', JSON_MEDIA_TYPE).end(body, close_connection);
  });
}

export function sendError(res: uWS.HttpResponse, status: number, error: string, close_connection = false): void {
  sendJson(res, status, JSON.stringify({ error }), close_connection);
}

// An answer that leaves after the handler returns (a database round trip, a worker's
// completion). While it is pending the connection is not read, so a request pipelined behind it
// in a later read waits in the socket's buffer and is answered after it, in order. A request that
// arrived in the same read as the pending one is parsed before the pause can act: uWS closes the
// connection then (the follower never reaches a handler), and `aborted` turns true.
export interface PendingAnswer {
  readonly aborted: boolean;
  json(status: number, body: string, close_connection?: boolean): void;
  error(status: number, error: string, close_connection?: boolean): void;
}

export function holdAnswer(res: uWS.HttpResponse): PendingAnswer {
  let aborted = false;
  let answered = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.pause();
  const send = (status: number, body: string, close_connection: boolean): void => {
    assert(!answered, 'a pending answer is sent once');
    answered = true;
    if (aborted) return; // the connection is gone; nothing to send to
    res.cork(() => {
      res.resume();
      res.writeStatus(statusLine(status)).writeHeader('Content-Type', JSON_MEDIA_TYPE).end(body, close_connection);
    });
  };
  return {
    get aborted() {
      return aborted;
    },
    json: (status, body, close_connection = false) => send(status, body, close_connection),
    error: (status, error, close_connection = false) => send(status, JSON.stringify({ error }), close_connection),
  };
}

// A refusal that must also stop whatever the same bytes carry after this request (a request
// hidden in a body whose length is in dispute). Answering inside the handler would let uWS go on
// to parse and route those bytes; a pending answer makes uWS close the connection instead if
// they hold another request. When they do not, the refusal leaves after this read is parsed,
// and the connection closes behind it.
export function refuseAndClose(res: uWS.HttpResponse, status: number, error: string): void {
  const pending = holdAnswer(res);
  setImmediate(() => pending.error(status, error, true));
}
