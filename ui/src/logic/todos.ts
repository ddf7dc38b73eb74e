// The user's pending todos as the todo panel shows them, folded from what the server pushes: the whole
// pending list (`todos` events of GET /todos/stream, or a fallback poll of GET /todos), and single changes
// (`{"event": "todo", "data": {"action", "todo"}}` custom events of a thread's run stream, nodes/todos.py,
// and the todo a complete / cancel answered with). A list replaces what was known; a change adds, updates or
// removes one todo. Newest first, as the server lists them.

import type { Todo } from "../api/clew";

export type TodoChange = { event: "todo"; data: { action: string; todo: Todo } };

type Obj = Record<string, unknown>;

function isTodo(v: unknown): v is Todo {
  return v != null && typeof v === "object" && typeof (v as Obj).todo_id === "string" && typeof (v as Obj).status === "string";
}

const newestFirst = (a: Todo, b: Todo): number =>
  a.created_at === b.created_at ? a.todo_id.localeCompare(b.todo_id) : a.created_at < b.created_at ? 1 : -1;

/** A change of one todo, as a thread stream's custom event or a finished todo (null: not a todo change). */
export function todoChange(event: unknown): { todo: Todo } | null {
  if (event == null || typeof event !== "object") return null;
  const e = event as Obj;
  if (e.event !== "todo" || e.data == null || typeof e.data !== "object") return null;
  const todo = (e.data as Obj).todo;
  return isTodo(todo) ? { todo } : null;
}

/** Fold a pushed list (an array of todos) or one change into the pending list; anything else changes
 * nothing (the same array). */
export function reduceTodos(list: readonly Todo[], event: unknown): readonly Todo[] {
  if (Array.isArray(event)) return event.filter(isTodo).filter((t) => t.status === "pending").sort(newestFirst);
  const change = todoChange(event);
  if (!change) return list;
  const { todo } = change;
  const others = list.filter((t) => t.todo_id !== todo.todo_id);
  if (todo.status !== "pending") return others.length === list.length ? list : others;
  return [...others, todo].sort(newestFirst);
}

/** The change a finished todo (the answer of complete / cancel) makes. */
export const finished = (todo: Todo): TodoChange => ({ event: "todo", data: { action: todo.status, todo } });
