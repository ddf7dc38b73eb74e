// The user's pending todos, pushed: GET /todos/stream (SSE; a `todos` event with the whole pending list at
// once and after every change, in any session) read through fetch, since an EventSource cannot send the
// credentials. While the stream is down (server restarting, network) the list is polled every POLL_MS and the
// stream retried after growing pauses; once it is back, the poll stops.

import { EventSourceParserStream } from "eventsource-parser/stream";
import { authFetch, isUnauthorized } from "./auth";
import { clew, type Todo } from "./clew";

export const POLL_MS = 3000;
const RETRY_MS = [1000, 2000, 5000, 10_000];

/** The pause before the stream's next connection attempt (0-based). */
export function retryDelay(attempt: number): number {
  return RETRY_MS[Math.min(Math.max(attempt, 0), RETRY_MS.length - 1)]!;
}

export type FeedState = "live" | "polling";

/** Follow the pending todos until the returned function is called. */
export function followTodos(onList: (todos: Todo[]) => void, onState: (state: FeedState) => void): () => void {
  let stopped = false;
  const abort = new AbortController();
  let poll: number | undefined;
  const startPolling = () => {
    if (poll !== undefined || stopped) return;
    const tick = () => void clew.todos("pending").then((l) => !stopped && onList(l), () => {});
    tick();
    poll = window.setInterval(() => document.visibilityState === "visible" && tick(), POLL_MS);
  };
  const stopPolling = () => {
    window.clearInterval(poll);
    poll = undefined;
  };
  const read = async (): Promise<void> => {
    const res = await authFetch("/todos/stream", { signal: abort.signal, headers: { accept: "text/event-stream" } });
    if (!res.ok || !res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || stopped) return;
      if (value.event !== "todos") continue;
      stopPolling();
      onState("live");
      onList(JSON.parse(value.data) as Todo[]);
    }
  };
  void (async () => {
    for (let attempt = 0; !stopped; attempt++) {
      const started = Date.now();
      await read().catch(() => {});
      if (stopped || isUnauthorized()) return; // signed out: the page starts a new feed after sign-in
      if (Date.now() - started > 30_000) attempt = 0; // it was up for a while: retry soon
      onState("polling");
      startPolling();
      await new Promise((r) => window.setTimeout(r, retryDelay(attempt)));
    }
  })();
  return () => {
    stopped = true;
    abort.abort();
    stopPolling();
  };
}
