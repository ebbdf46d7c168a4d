/**
 * Node 20 lacks Promise.withResolvers, which libp2p 3 calls. Only the
 * discovery plugins import this (first, before libp2p), so the core changes
 * no globals; it adds the method only where it is missing (Node ≥ 22 has it).
 * docs/install.md tells users so.
 */
if (typeof (Promise as any).withResolvers !== 'function') {
  (Promise as any).withResolvers = function withResolvers<T>() {
    let resolve!: (v: T | PromiseLike<T>) => void;
    let reject!: (r?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
export {};
