import { describe, expect, it } from "vitest";
import type { Todo } from "../api/clew";
import { finished, reduceTodos, todoChange } from "./todos";

const todo = (id: string, at: string, status: Todo["status"] = "pending"): Todo => ({
  todo_id: id, thread_id: "t", run_id: null, graph_id: null, kind: "input", message: id, data: {}, options: [],
  schema: null, status, result: null, created_at: at, overdue: false,
});
const change = (action: string, t: Todo) => ({ event: "todo", data: { action, todo: t } });

describe("reduceTodos", () => {
  it("takes a pushed list as the pending list, newest first", () => {
    const list = reduceTodos([todo("old", "2026-01-01")], [todo("a", "2026-01-02"), todo("b", "2026-01-03"), todo("c", "2026-01-04", "completed")]);
    expect(list.map((t) => t.todo_id)).toEqual(["b", "a"]);
    expect(reduceTodos(list, [])).toEqual([]);
  });

  it("adds a filed todo once and drops a finished one", () => {
    let list = reduceTodos([], [todo("a", "2026-01-01")]);
    list = reduceTodos(list, change("created", todo("b", "2026-01-02")));
    list = reduceTodos(list, change("created", todo("b", "2026-01-02"))); // a replayed stream
    expect(list.map((t) => t.todo_id)).toEqual(["b", "a"]);
    list = reduceTodos(list, change("completed", todo("a", "2026-01-01", "completed")));
    list = reduceTodos(list, finished(todo("b", "2026-01-02", "cancelled")));
    expect(list).toEqual([]);
  });

  it("leaves the list alone for other events and unknown todos", () => {
    const list = reduceTodos([], [todo("a", "2026-01-01")]);
    expect(reduceTodos(list, { type: "research.stage" })).toBe(list);
    expect(reduceTodos(list, null)).toBe(list);
    expect(reduceTodos(list, change("cancelled", todo("zz", "2026-01-05", "cancelled")))).toBe(list);
    expect(reduceTodos(list, { event: "todo", data: { action: "created" } })).toBe(list);
  });

  it("recognises a todo change", () => {
    expect(todoChange(change("created", todo("a", "x")))?.todo.todo_id).toBe("a");
    expect(todoChange({ event: "interrupt", data: {} })).toBeNull();
  });
});
