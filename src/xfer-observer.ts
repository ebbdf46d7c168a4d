import diagnostics_channel from 'node:diagnostics_channel';

import type { NixlError } from './errors.js';
import type { XferRequest } from './xfer-request.js';

/**
 * Who hears of finished transfers beside the caller: the agent's metrics
 * (AgentOptions.metrics). Called once per post, at completion, never per
 * descriptor; an agent without one pays a null check.
 */
export interface XferObserver {
  /** A post completed; `postUs` and `xferUs` as in getXferTelemetry. */
  xferDone(req: XferRequest, postUs: number, xferUs: number): void;
  /** A post failed, at post time or later. */
  xferError(req: XferRequest, err: NixlError): void;
}

/**
 * diagnostics_channel events for tracers, published only while someone
 * subscribes (the hot path reads `hasSubscribers`). Each message is an
 * XferEvent; `nixl:xfer:done` adds the timings, `nixl:xfer:error` the error.
 */
export const xferPostChannel = diagnostics_channel.channel('nixl:xfer:post');
export const xferDoneChannel = diagnostics_channel.channel('nixl:xfer:done');
export const xferErrorChannel = diagnostics_channel.channel('nixl:xfer:error');

/** What the nixl:xfer:* channels carry. */
export interface XferEvent {
  /** The initiating agent. */
  agent: string;
  /** The request object itself (the same one for every post of it). */
  request: XferRequest;
  op: 'READ' | 'WRITE';
  remoteAgent: string;
  backend: string;
  bytes: number;
  descCount: number;
  /** µs spent in postXferReq (done only). */
  postTime?: number;
  /** µs from the start of the post to completion (done only). */
  xferTime?: number;
  /** The failure (error only). */
  error?: NixlError;
}

export function xferEvent(agent: string, req: XferRequest): XferEvent {
  return {
    agent,
    request: req,
    op: req.op,
    remoteAgent: req.remoteAgent,
    backend: req.backend.type,
    bytes: req.totalBytes,
    descCount: req.descCount,
  };
}
