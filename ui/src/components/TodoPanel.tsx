// The user's pending todos across sessions: complete one with a result (a form from its answer schema) or
// cancel it. Completing the last todo of a session resumes its run (the server does that). The list is
// pushed by the server (api/todoFeed.ts) and by the open session's stream, so it follows the runs live.

import { useState } from "react";
import { clew, type Todo } from "../api/clew";
import { useApp } from "../context";
import { assemble, schemaFields } from "../logic/forms";
import { FieldInput } from "./FieldInput";

function TodoItem({ todo, onDone, onOpen }: { todo: Todo; onDone: (t: Todo) => void; onOpen: (threadId: string) => void }) {
  const { t } = useApp();
  const fields = schemaFields(todo.schema);
  const [raw, setRaw] = useState<Record<string, string | boolean>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<Todo>) => {
    setBusy(true);
    setProblem(null);
    try {
      onDone(await action());
    } catch (e) {
      setProblem((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const complete = (e: React.FormEvent) => {
    e.preventDefault();
    const r = assemble(fields, raw);
    if (!r.ok) return setErrors(r.errors);
    setErrors({});
    void run(() => clew.completeTodo(todo.todo_id, r.value));
  };
  return (
    <li className="todo" data-kind={todo.kind}>
      <form onSubmit={complete} aria-label={todo.message} noValidate>
        <p className="todo-message"><strong>{todo.message}</strong> <small>({todo.kind})</small>{" "}
          <button type="button" className="link" onClick={() => onOpen(todo.thread_id)}>{t.sessions} ↗</button>
        </p>
        {fields.map((f) => (
          <FieldInput key={f.name} field={f} label={f.name ? f.label : t.result} value={raw[f.name] ?? ""}
            onChange={(x) => setRaw((r) => ({ ...r, [f.name]: x }))} error={errors[f.name]} />
        ))}
        {problem && <p className="error" role="alert">{problem}</p>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>{t.complete}</button>
          <button type="button" disabled={busy} onClick={() => void run(() => clew.cancelTodo(todo.todo_id))}>{t.cancel}</button>
        </div>
      </form>
    </li>
  );
}

export function TodoPanel(props: {
  todos: readonly Todo[];
  /** pushed by the server (false: polled while the push is down) */
  live: boolean;
  onFinished: (todo: Todo) => void;
  onOpen: (threadId: string) => void;
}) {
  const { t } = useApp();
  return (
    <section className="todos" aria-label={t.todos} data-feed={props.live ? "live" : "polling"}>
      <h2>{t.todos} <span className="badge">{props.todos.length}</span></h2>
      {props.todos.length === 0 && <p className="muted">{t.noTodos}</p>}
      <ul>
        {props.todos.map((todo) => <TodoItem key={todo.todo_id} todo={todo} onDone={props.onFinished} onOpen={props.onOpen} />)}
      </ul>
    </section>
  );
}
