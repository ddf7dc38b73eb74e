// The page: header with the views (sessions, todos, knowledge, settings) and sign-out; the sessions view has
// the session list beside the open session or the new-session form. The open view and session live in the
// URL (?view=…&thread=…), so a reload comes back to the same place and rejoins a running stream.

import type { Thread } from "@langchain/langgraph-sdk";
import { useCallback, useEffect, useMemo, useState } from "react";
import { hasCredentials, isUnauthorized, logout, onAuthChange } from "./api/auth";
import { clew, type Todo } from "./api/clew";
import { sdkClient } from "./api/sdk";
import { followTodos, type FeedState } from "./api/todoFeed";
import { KnowledgePanel } from "./components/KnowledgePanel";
import { NewSessionForm } from "./components/NewSessionForm";
import { SessionView } from "./components/SessionView";
import { SettingsPanel } from "./components/SettingsPanel";
import { SignInForm } from "./components/SignInForm";
import { ThreadList } from "./components/ThreadList";
import { TodoPanel } from "./components/TodoPanel";
import { AppContext } from "./context";
import { stringsFor } from "./i18n";
import { initialInput, modeOf, titleOf, type GraphMode } from "./logic/graphs";
import { finished, reduceTodos } from "./logic/todos";

type View = "sessions" | "todos" | "knowledge" | "settings";
const VIEWS: View[] = ["sessions", "todos", "knowledge", "settings"];

function readUrl(): { view: View; thread: string | null } {
  const q = new URLSearchParams(window.location.search);
  const v = q.get("view") as View | null;
  return { view: v && VIEWS.includes(v) ? v : "sessions", thread: q.get("thread") };
}

function writeUrl(view: View, thread: string | null): void {
  const q = new URLSearchParams();
  if (view !== "sessions") q.set("view", view);
  if (thread) q.set("thread", thread);
  const s = q.toString();
  window.history.replaceState(null, "", s ? `/?${s}` : "/");
}

function useAuthState(): { signedOut: boolean; hasKey: boolean } {
  const [, bump] = useState(0);
  useEffect(() => onAuthChange(() => bump((n) => n + 1)), []);
  return { signedOut: isUnauthorized(), hasKey: hasCredentials() };
}

export function App() {
  const auth = useAuthState();
  const initial = useMemo(readUrl, []);
  const [view, setView] = useState<View>(initial.view);
  const [threadId, setThreadId] = useState<string | null>(initial.thread);
  const [settings, setSettings] = useState<Record<string, unknown>>({});
  const [modes, setModes] = useState<GraphMode[]>([]);
  const [threads, setThreads] = useState<Thread[]>([]);
  const [todos, setTodos] = useState<readonly Todo[]>([]);
  const [feed, setFeed] = useState<FeedState>("polling");
  const [pending, setPending] = useState<{ threadId: string; input: Record<string, unknown> | null; mode: GraphMode } | null>(null);
  const [startError, setStartError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const client = useMemo(() => sdkClient(), [auth.hasKey, auth.signedOut]);

  const reloadSettings = useCallback(() => {
    clew.settings().then((s) => setSettings(s.values), () => {});
  }, []);
  const reloadThreads = useCallback(() => {
    client.threads.search({ limit: 100, sortBy: "updated_at", sortOrder: "desc" }).then(setThreads, () => {});
  }, [client]);
  const todoEvent = useCallback((event: unknown) => setTodos((l) => reduceTodos(l, event)), []);
  const activity = reloadThreads;

  useEffect(() => {
    if (auth.signedOut) return;
    reloadSettings();
    activity();
    client.assistants.search({ limit: 100 }).then(async (list) => {
      // one mode per graph (a user's own assistants over a graph are presets of the same mode)
      const seen = new Set<string>();
      const unique = list.filter((a) => !seen.has(a.graph_id) && seen.add(a.graph_id));
      const out = await Promise.all(
        unique.map(async (a) => {
          const schemas = await client.assistants.getSchemas(a.assistant_id).catch(() => null);
          return modeOf(a.graph_id, a.assistant_id, (schemas?.input_schema ?? null) as never);
        }),
      );
      out.sort((x, y) => x.graphId.localeCompare(y.graphId));
      setModes(out);
    }, () => {});
  }, [auth.signedOut, client]);

  // the pending todos are pushed (polled only while their stream is down); a change may be a thread that
  // waits for them or goes on: the session list follows
  useEffect(() => {
    if (auth.signedOut) return;
    return followTodos((list) => {
      todoEvent(list);
      reloadThreads();
    }, setFeed);
  }, [auth.signedOut, auth.hasKey, todoEvent, reloadThreads]);

  // the session list follows the runs: reload every 3 s while the page is visible
  useEffect(() => {
    if (auth.signedOut) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") activity();
    }, 3000);
    return () => window.clearInterval(id);
  }, [auth.signedOut, activity]);

  useEffect(() => writeUrl(view, threadId), [view, threadId]);

  const theme = String(settings["ui.theme"] ?? "system");
  const language = settings["ui.language"] ?? "en";
  const fontSize = Number(settings["ui.font_size"] ?? 16);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    document.documentElement.lang = String(language).toLowerCase().startsWith("zh") ? "zh" : "en";
    document.documentElement.style.fontSize = `${fontSize}px`;
  }, [theme, language, fontSize]);
  const t = stringsFor(language);

  const start = async (mode: GraphMode, value: Record<string, unknown>) => {
    setStarting(true);
    setStartError(null);
    try {
      const th = await client.threads.create({ metadata: { title: titleOf(mode, value), graph_id: mode.graphId } });
      setPending({ threadId: th.thread_id, input: initialInput(mode, value), mode });
      setThreadId(th.thread_id);
      reloadThreads();
    } catch (e) {
      setStartError((e as Error).message);
    } finally {
      setStarting(false);
    }
  };

  const thread = threads.find((th) => th.thread_id === threadId);
  const graphId = String((thread?.metadata as Record<string, unknown> | undefined)?.graph_id ?? "");
  const mode = pending?.threadId === threadId ? pending.mode : modes.find((m) => m.graphId === graphId);
  const open = (id: string) => {
    setView("sessions");
    setThreadId(id);
  };

  return (
    <AppContext.Provider value={{ t, settings, reloadSettings }}>
      <header className="topbar">
        <h1>{t.appName}</h1>
        {!auth.signedOut && <nav aria-label="views">
          {VIEWS.map((v) => (
            <button key={v} type="button" aria-current={view === v ? "page" : undefined} onClick={() => setView(v)}>
              {t[v]}{v === "todos" && todos.length > 0 && <span className="badge" data-testid="todo-count">{todos.length}</span>}
            </button>
          ))}
        </nav>}
        {auth.hasKey && !auth.signedOut && <button type="button" className="sign-out" onClick={() => void logout()}>{t.signOut}</button>}
      </header>
      <main>
        {auth.signedOut ? (
          <SignInForm />
        ) : view === "sessions" ? (
          <div className="sessions-layout">
            <aside>
              <button type="button" className="primary new" onClick={() => setThreadId(null)}>+ {t.newSession}</button>
              <ThreadList threads={threads} selected={threadId} onSelect={setThreadId}
                onRename={(id, title) => client.threads.update(id, { metadata: { title } }).then(reloadThreads)}
                onDelete={(id) => client.threads.delete(id).then(() => {
                  if (id === threadId) setThreadId(null);
                  reloadThreads();
                })} />
            </aside>
            <section className="session-area">
              {threadId == null ? (
                modes.length ? <NewSessionForm modes={modes} onStart={start} busy={starting} error={startError} /> : <p className="muted">…</p>
              ) : mode || graphId ? (
                <SessionView key={threadId} threadId={threadId}
                  assistantId={mode?.graphId ?? graphId}
                  messagesInput={mode?.kind === "messages"}
                  showState={mode?.kind !== "messages" && mode?.kind !== "question"}
                  initialInput={pending?.threadId === threadId ? pending.input : null}
                  onStarted={() => setPending((p) => (p ? { ...p, input: null } : p))}
                  threadStatus={thread?.status}
                  onActivity={activity} onTodo={todoEvent} />
              ) : (
                <p className="muted">…</p>
              )}
            </section>
          </div>
        ) : view === "todos" ? (
          <TodoPanel todos={todos} live={feed === "live"} onOpen={open} onFinished={(todo) => {
            todoEvent(finished(todo));
            reloadThreads();
          }} />
        ) : view === "knowledge" ? (
          <KnowledgePanel />
        ) : (
          <SettingsPanel />
        )}
      </main>
    </AppContext.Provider>
  );
}
