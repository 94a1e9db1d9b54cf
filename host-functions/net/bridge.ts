/**
 * The synchronous network bridge between a guest's worker thread and the main thread
 * (spec: spec/network.md#R1). The worker posts a request and blocks on `Atomics.wait`; the main
 * thread performs it, posts the answer and notifies; the worker takes the answer with
 * `receiveMessageOnPort`, so no event loop turn is needed on its side.
 */
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { performRequest } from './transport.ts';
import type { NetRequest, NetResponse, NetTransport } from './http.ts';

/** What a worker needs to reach the bridge: post it in `workerData` with `port` in the transfer list. */
export interface BridgeEnd {
  port: MessagePort;
  signal: SharedArrayBuffer;
}

/**
 * Main-thread side: serves requests from one worker. Returns the end to hand to the worker, a
 * function that closes the bridge, and one that sets whether it keeps the process alive (an idle
 * thread of a pool that lets the process exit must not hold it through its bridge).
 */
export function openBridge(): { end: BridgeEnd; close: () => void; ref: (on: boolean) => void } {
  const signal = new SharedArrayBuffer(4);
  const flag = new Int32Array(signal);
  const channel = new MessageChannel();
  channel.port1.on('message', (req: NetRequest) => {
    // performRequest never rejects by design; should it, the guest gets an answer, not a hang.
    void performRequest(req)
      .catch((e: unknown): NetResponse => ({ error: 'transport', message: (e as Error).message }))
      .then((res) => {
        channel.port1.postMessage(res);
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      });
  });
  return {
    end: { port: channel.port2, signal },
    close: () => channel.port1.close(),
    ref: (on) => (on ? channel.port1.ref() : channel.port1.unref()),
  };
}

/** Worker side: a transport that performs each request through the bridge, blocking this thread. */
export function bridgeTransport(end: BridgeEnd): NetTransport {
  const flag = new Int32Array(end.signal);
  return (req: NetRequest): NetResponse => {
    Atomics.store(flag, 0, 0);
    end.port.postMessage(req);
    // The main thread enforces the request timeout; this wait only guards against a lost reply.
    const r = Atomics.wait(flag, 0, 0, req.timeoutMs + 5_000);
    const msg = receiveMessageOnPort(end.port);
    if (r === 'timed-out' || msg === undefined)
      return { error: 'transport', message: 'no answer from the network thread' };
    return msg.message as NetResponse;
  };
}
