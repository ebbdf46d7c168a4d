/**
 * Polyfills for Node 20. libp2p 3 (it-queue, mortice, yamux, ...) calls
 * `Promise.withResolvers` (Node 22+). Every module that may load libp2p
 * imports this file first; ESM evaluates imports in order.
 */
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
