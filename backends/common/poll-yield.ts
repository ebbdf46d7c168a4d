/**
 * A caller that polls a transfer in flight (getXferStatus, or the spin of
 * XferRequest.wait) gives up its CPU (sched_yield) every this many status
 * reads that found it in flight (a power of two: a few µs of polling). The
 * engine thread that must deliver the completion (TCP's I/O thread, UCX's
 * progress thread, a same-host target's) may be queued on the caller's CPU:
 * it runs then, not after the caller's time slice or the end of its spin
 * when the other CPU is busy.
 */
export const YIELD_EVERY_POLLS = 64;
