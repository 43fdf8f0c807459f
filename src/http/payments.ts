// POST /payments: the headers checked in the handler, the body read in place when it arrives in
// one chunk (the common case), one ring push, the 202. Nothing here awaits.
import assert from 'node:assert/strict';
import type uWS from 'uWebSockets.js';
import { C_ACCEPTED, type Counters } from '../counters.js';
import type { Ring } from '../queue/ring.js';
import { writeAcceptedRecord } from '../queue/record.js';
import type { PendingAcks } from './acks.js';
import { sendError, STATUS_LINE } from './answer.js';
import { checkContentType, readCanonicalPayment, readPayment } from './validate.js';

const UUID_BYTES = 16;
const ACCEPTED_STATUS_LINE = STATUS_LINE[202]; // read once: the hot path writes a constant

export class PaymentIntake {
  private readonly id = new Uint8Array(UUID_BYTES); // the id being accepted, copied into a slot
  private amount_cents = 0; // the amount being accepted (one payment at a time: a single thread)
  private ticket = 0; // strict: its parked answer (0: answered at once)
  private readonly too_large: string;
  private readonly fill = (view: DataView, bytes: Uint8Array, base: number): void => {
    writeAcceptedRecord(view, bytes, base, this.id, this.amount_cents, Date.now(), 0, this.ticket);
  };

  constructor(
    private readonly ring: Ring,
    private readonly counters: Counters,
    private readonly body_max_bytes: number,
    private readonly acks?: PendingAcks, // DURABILITY=strict: a 202 waits for the claim's commit
  ) {
    assert(Number.isInteger(body_max_bytes) && body_max_bytes > 0, 'the body limit is a positive number of bytes');
    this.too_large = `body larger than ${body_max_bytes} bytes`;
  }

  // The request handler's part: refusals that the headers decide, then the body.
  take(res: uWS.HttpResponse, req: uWS.HttpRequest, accepting: boolean): void {
    if (!accepting) {
      this.counters.reject('shutting_down');
      sendError(res, 503, 'shutting down');
      return;
    }
    const media = checkContentType(req.getHeader('content-type'));
    if (media !== null) {
      this.counters.reject('unsupported_media_type');
      sendError(res, media.status, media.error);
      return;
    }
    const declared = req.getHeader('content-length');
    if (declared !== '' && Number(declared) > this.body_max_bytes) {
      this.refuseTooLarge(res);
      return;
    }
    this.readBody(res);
  }

  private readBody(res: uWS.HttpResponse): void {
    let aborted = false;
    let chunks: Buffer[] | null = null;
    let size_bytes = 0;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((chunk, is_last) => {
      if (aborted) return;
      size_bytes += chunk.byteLength;
      if (size_bytes > this.body_max_bytes) {
        aborted = true; // answer once, ignore the rest of the body
        this.refuseTooLarge(res);
        return;
      }
      if (is_last && chunks === null) {
        this.enqueueBytes(res, chunk); // the chunk dies with this callback: read in place
        return;
      }
      if (chunks === null) chunks = [];
      chunks.push(Buffer.from(chunk.slice(0)));
      if (is_last) this.enqueueText(res, Buffer.concat(chunks).toString('utf8'));
    });
  }

  // A body spelled as load generators spell it is read from its bytes; any other goes the
  // general way.
  private enqueueBytes(res: uWS.HttpResponse, body: ArrayBuffer): void {
    const cents = readCanonicalPayment(new Uint8Array(body), this.id);
    if (cents > 0) this.enqueue(res, cents);
    else this.enqueueText(res, Buffer.from(body).toString('utf8'));
  }

  // The general path: any body, any JSON spelling, every error named.
  private enqueueText(res: uWS.HttpResponse, body: string): void {
    const parsed = readPayment(body, this.id);
    if (!parsed.ok) {
      this.counters.reject(parsed.status === 413 ? 'too_large' : 'invalid');
      sendError(res, parsed.status, parsed.error);
      return;
    }
    this.enqueue(res, parsed.amount_cents);
  }

  // `id` holds a valid id: queue the payment, then answer. The answer is the 202 at once; a
  // mode that answers once the payment is durable would hold it here (answer.ts holdAnswer).
  private enqueue(res: uWS.HttpResponse, cents: number): void {
    assert(cents >= 1, 'an accepted amount is at least one cent');
    if (this.acks !== undefined) {
      this.enqueueDurably(res, cents, this.acks);
      return;
    }
    this.amount_cents = cents;
    if (!this.ring.pushWith(this.fill)) {
      this.counters.reject('ring_full');
      sendError(res, 503, 'queue is full; retry later');
      return;
    }
    this.counters.add(C_ACCEPTED);
    res.cork(() => {
      res.writeStatus(ACCEPTED_STATUS_LINE).end();
    });
  }

  // DURABILITY=strict: queue the payment with a ticket and park the answer until a worker has
  // committed its claim (acks.ts answers it). Nothing awaits here either.
  private enqueueDurably(res: uWS.HttpResponse, cents: number, acks: PendingAcks): void {
    const ticket = acks.park(res);
    if (ticket === 0) {
      this.counters.reject('acks_full');
      sendError(res, 503, 'too many payments waiting for their commit; retry later');
      return;
    }
    this.amount_cents = cents;
    this.ticket = ticket;
    const pushed = this.ring.pushWith(this.fill);
    this.ticket = 0;
    if (!pushed) {
      acks.cancel(ticket);
      this.counters.reject('ring_full');
      sendError(res, 503, 'queue is full; retry later');
      return;
    }
    res.onAborted(() => acks.abandon(ticket)); // replaces the body's handler: the body is read
    // Out of the read poll until answered, as answer.ts holdAnswer does: a request the client
    // writes meanwhile waits in the socket and is answered after this one, in order.
    res.pause();
  }

  private refuseTooLarge(res: uWS.HttpResponse): void {
    this.counters.reject('too_large');
    sendError(res, 413, this.too_large);
  }
}
