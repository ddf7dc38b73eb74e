// One session (a thread) through the SDK's useStream: the conversation with streamed tokens, research
// progress from custom events, the report, the pending interrupt's dialog and the composer. Reloading the
// page rejoins the running stream (reconnectOnMount: the run id is kept in session storage and the SDK
// replays it from the start without duplicating messages); if the server goes away mid-run the SDK retries
// with Last-Event-ID, and when it gives up this view keeps looking for the thread's run and joins it again.

import { useStream } from "@langchain/langgraph-sdk/react";
import { useEffect, useMemo, useRef, useState } from "react";
import { useApp } from "../context";
import { sdkClient } from "../api/sdk";
import { serverProblems } from "../logic/forms";
import { emptyProgress, isTodoEvent, reduceProgress, shownProgress } from "../logic/progress";
import { SUBGRAPH_PROGRESS } from "../logic/sections";
import { DataResult } from "./DataResult";
import { InterruptDialog, isTyped } from "./InterruptDialog";
import { MessageList, textOf } from "./MessageList";
import { ProgressPanel } from "./ProgressPanel";
import { ReportView } from "./ReportView";
import { SessionSettings } from "./SessionSettings";

export const STREAM_MODES = ["values", "messages-tuple", "custom", "updates"] as const;
const RUN_CONFIG = { recursion_limit: 400 };

/** How this page streams a run of the graph: a graph whose progress runs in subgraphs (a multi-agent team's
 * sections) streams them too, without the token stream (the subgraphs' own model calls are not the chat). */
export function streamOptions(graphId: string) {
  return SUBGRAPH_PROGRESS.has(graphId)
    ? { streamMode: ["values", "custom", "updates"] as ("values" | "custom" | "updates")[], streamSubgraphs: true, config: RUN_CONFIG }
    : { streamMode: [...STREAM_MODES], config: RUN_CONFIG };
}

type Values = Record<string, unknown>;

function statusOf(e: unknown): number | undefined {
  return e != null && typeof e === "object" && typeof (e as { status?: unknown }).status === "number"
    ? (e as { status: number }).status
    : undefined;
}

/** Problems an HTTP error of the SDK names (its `text` is clew's JSON error body). */
export function problemsOf(e: unknown): string[] {
  if (e == null || typeof e !== "object") return [];
  const text = (e as { text?: unknown }).text;
  if (typeof text === "string") {
    try {
      return serverProblems(JSON.parse(text));
    } catch {
      return [text];
    }
  }
  return [String((e as Error).message ?? e)];
}

function isConnectionLoss(e: unknown): boolean {
  if (e == null || statusOf(e) !== undefined) return false;
  const name = (e as Error).name ?? "";
  const msg = String((e as Error).message ?? "");
  return name === "TypeError" || name === "MaxReconnectAttemptsError" || /network|fetch|reconnect|terminated|aborted/i.test(msg);
}

export function SessionView(props: {
  threadId: string;
  assistantId: string;
  messagesInput: boolean;
  /** show the raw state (graphs without a dedicated view: no chat, no research) */
  showState: boolean;
  initialInput?: Values | null;
  /** the initial input was sent: it must not be sent again when this view mounts anew */
  onStarted?: () => void;
  /** the thread's status as the session list last saw it */
  threadStatus?: string;
  onActivity: () => void;
  /** a todo filed or finished, as this session's run stream told it */
  onTodo?: (event: unknown) => void;
}) {
  const { t } = useApp();
  const client = useMemo(() => sdkClient(), []);
  const [progress, setProgress] = useState(emptyProgress);
  const [lastError, setLastError] = useState<unknown>(null);
  const [answering, setAnswering] = useState(false);
  const [reconnecting, setReconnecting] = useState(false);
  const [draft, setDraft] = useState("");
  const opts = streamOptions(props.assistantId);
  const stream = useStream<Values>({
    client,
    assistantId: props.assistantId,
    threadId: props.threadId,
    reconnectOnMount: true,
    onCustomEvent: (data, meta) => {
      // from a subgraph only the team's events count (a section's researcher is not the research's branch)
      const inner = (meta?.namespace?.length ?? 0) > 0;
      if (inner && (data as { type?: unknown } | null)?.type !== "research.team") return;
      setProgress((p) => reduceProgress(p, data));
      if (isTodoEvent(data)) {
        props.onTodo?.(data);
        props.onActivity();
      }
    },
    onError: (e) => setLastError(e),
    onCreated: () => {
      setAnswering(false); // the answer was accepted: its run exists
      props.onActivity();
    },
    onFinish: () => props.onActivity(),
  });

  const started = useRef(false);
  useEffect(() => {
    if (started.current || !props.initialInput) return;
    started.current = true;
    props.onStarted?.();
    void stream.submit(props.initialInput, opts);
  }, [props.initialInput]);

  // The server went away: once the SDK's own retries are spent, look for the thread's latest run (every
  // 1.5 s, for up to 3 minutes) and join its stream again; a finished run replays to its end.
  const error = stream.error ?? null;
  const lost = !stream.isLoading && isConnectionLoss(error);
  useEffect(() => {
    if (!lost) return;
    setReconnecting(true);
    let stopped = false;
    let tries = 0;
    const tick = async () => {
      if (stopped || tries++ > 120) return;
      try {
        const runs = await client.runs.list(props.threadId, { limit: 1 });
        const run = runs[0];
        if (run) {
          stopped = true;
          setReconnecting(false);
          await stream.joinStream(run.run_id);
          props.onActivity();
          return;
        }
      } catch {
        /* still down */
      }
      if (!stopped) timer = window.setTimeout(tick, 1500);
    };
    let timer = window.setTimeout(tick, 1000);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [lost]);

  // A run this page did not start (a todo completed elsewhere resumed the thread, another tab, the CLI):
  // when the thread turns busy while nothing streams here, join that run's stream.
  const joined = useRef<string | null>(null);
  useEffect(() => {
    if (props.threadStatus !== "busy" || stream.isLoading || lost) return;
    let cancelled = false;
    void (async () => {
      const runs = await client.runs.list(props.threadId, { limit: 5 }).catch(() => []);
      const run = runs.find((r) => r.status === "running" || r.status === "pending");
      if (cancelled || !run || joined.current === run.run_id) return;
      joined.current = run.run_id;
      setLastError(null);
      await stream.joinStream(run.run_id);
      props.onActivity();
    })();
    return () => {
      cancelled = true;
    };
  }, [props.threadStatus, stream.isLoading, lost]);

  // A run that came and went between two looks at the session list (the list saw the thread turn idle or
  // wait again, never busy, or busy only after the run had ended): nothing streamed here since the status
  // last changed, so the values shown are stale; join the thread's latest run, which replays to its end.
  const lastStatus = useRef(props.threadStatus);
  const streamed = useRef(false);
  if (stream.isLoading) streamed.current = true;
  useEffect(() => {
    const before = lastStatus.current;
    lastStatus.current = props.threadStatus;
    if (before === undefined || before === props.threadStatus || props.threadStatus === "busy") return;
    if (streamed.current || stream.isLoading || lost) {
      streamed.current = false;
      return;
    }
    let cancelled = false;
    void (async () => {
      const runs = await client.runs.list(props.threadId, { limit: 1 }).catch(() => []);
      const run = runs[0];
      if (cancelled || !run || joined.current === run.run_id) return;
      joined.current = run.run_id;
      await stream.joinStream(run.run_id);
    })();
    return () => {
      cancelled = true;
    };
  }, [props.threadStatus]);

  const values = stream.values ?? {};
  const report = typeof values.report === "string" ? values.report : "";
  const shown = shownProgress(progress, values, stream.isLoading || props.threadStatus === "busy");
  // While an answer is on its way the SDK shows no interrupt; keep the dialog (and what was typed) until the
  // server accepted the answer (its run was created) or named its problems.
  const lastInterrupt = useRef<(typeof stream.interrupts)[number] | undefined>(undefined);
  if (stream.interrupts[0]) lastInterrupt.current = stream.interrupts[0];
  const interrupt = stream.interrupts[0] ?? (answering ? lastInterrupt.current : undefined);
  const typed = interrupt && isTyped(interrupt.value) ? interrupt.value : null;

  const answer = async (value: unknown) => {
    setLastError(null);
    setAnswering(true);
    const resume = stream.interrupts.length > 1 && interrupt?.id ? { [interrupt.id]: value } : value;
    try {
      await stream.submit(null, { ...opts, command: { resume } });
    } finally {
      setAnswering(false);
    }
  };

  const send = (e: React.FormEvent) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text) return;
    setDraft("");
    setLastError(null);
    void stream.submit({ messages: [{ type: "human", content: text }] }, opts);
  };

  const resumeRejected = lastError != null && [409, 422].includes(statusOf(lastError) ?? 0);
  const problems = resumeRejected ? problemsOf(lastError) : [];
  const otherValues = Object.fromEntries(
    Object.entries(values).filter(([k]) => !["messages", "question", "report", "sources", "findings", "result", "chart", "__interrupt__"].includes(k)),
  );

  return (
    <div className="session" data-loading={stream.isLoading ? "true" : "false"}>
      {typeof values.question === "string" && <h2 className="question">{values.question}</h2>}
      <ProgressPanel progress={shown} />
      <MessageList messages={report ? stream.messages.filter((m) => !(m.type === "ai" && textOf(m.content).trim() === report.trim())) : stream.messages} />
      {report && <ReportView threadId={props.threadId} values={values} />}
      <DataResult result={values.result} chart={values.chart} sql={values.checked_sql ?? values.sql} title={typeof values.question === "string" ? values.question : undefined} />
      {props.showState && !report && Object.keys(otherValues).length > 0 && (
        <details className="state" open={!stream.isLoading}>
          <summary>State</summary>
          <pre data-testid="state">{JSON.stringify(otherValues, null, 2)}</pre>
        </details>
      )}
      <div className="status-line" aria-live="polite">
        {stream.isLoading && <span className="running" data-testid="running">{t.running}…</span>}
        {reconnecting && <span className="warning" role="status">{t.reconnecting}</span>}
        {typed?.kind === "todos" && <span className="warning" role="status">{typed.message} — {t.todos}</span>}
        {error != null && !lost && !resumeRejected && (
          <span className="error" role="alert">{t.error}: {problemsOf(error).join("; ") || String(error)}</span>
        )}
        {stream.isLoading && <button type="button" onClick={() => void stream.stop()}>{t.stop}</button>}
      </div>
      <SessionSettings threadId={props.threadId} />
      {interrupt && (!stream.isLoading || answering) && typed?.kind !== "todos" && (
        <InterruptDialog key={interrupt.id ?? "interrupt"} value={interrupt.value} problems={problems} busy={answering} onAnswer={answer} />
      )}
      {props.messagesInput && (
        <form className="composer" onSubmit={send}>
          <label htmlFor="composer-input" className="visually-hidden">{t.question}</label>
          <textarea id="composer-input" value={draft} onChange={(e) => setDraft(e.target.value)} rows={2}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) send(e);
            }} />
          <button type="submit" className="primary" disabled={stream.isLoading || !draft.trim()}>{t.send}</button>
        </form>
      )}
    </div>
  );
}
