import { describe, expect, it } from "vitest";
import type { SettingDefinition } from "../api/clew";
import { assemble, formatField, parseField, schemaFields, serverProblems, settingField, settingsByCategory } from "./forms";
import { initialInput, modeOf } from "./graphs";

const def = (over: Partial<SettingDefinition>): SettingDefinition => ({
  key: "a.b", category: "a", type: "string", default: null, minimum: null, maximum: null, pattern: null,
  options: null, scope: "user", secret: false, description: "", user_editable: true, session_editable: false, ...over,
});

describe("settings form", () => {
  it("picks a control per setting type", () => {
    expect(settingField(def({ type: "boolean" })).control).toBe("checkbox");
    expect(settingField(def({ type: "integer", minimum: 1, maximum: 5 }))).toMatchObject({ control: "number", min: 1, max: 5, integer: true });
    expect(settingField(def({ type: "enum", options: ["light", "dark"] }))).toMatchObject({ control: "select", options: ["light", "dark"] });
    expect(settingField(def({ type: "string", pattern: "[a-z]+" }))).toMatchObject({ control: "text", pattern: "[a-z]+" });
    expect(settingField(def({ type: "list" })).control).toBe("json");
    expect(settingField(def({ type: "string", secret: true })).control).toBe("password");
  });

  it("groups definitions by category in the server's order", () => {
    const groups = settingsByCategory(
      [{ code: "ui", name: "UI", keys: ["ui.theme"] }, { code: "x", name: "X", keys: ["x.missing"] }],
      [def({ key: "ui.theme", category: "ui", type: "enum", options: ["dark"] })],
    );
    expect(groups.map((g) => g.code)).toEqual(["ui"]);
    expect(groups[0]!.fields[0]!.field.control).toBe("select");
  });

  it("parses typed text into values", () => {
    const int = settingField(def({ type: "integer" }));
    expect(parseField(int, "12")).toEqual({ ok: true, value: 12 });
    expect(parseField(int, "1.5")).toEqual({ ok: false, error: "not an integer" });
    expect(parseField(int, "x")).toEqual({ ok: false, error: "not a number" });
    const sel = settingField(def({ type: "enum", options: [1, 2] }));
    expect(parseField(sel, "2")).toEqual({ ok: true, value: 2 });
    expect(parseField(settingField(def({ type: "list" })), "[1]")).toEqual({ ok: true, value: [1] });
    expect(parseField(settingField(def({ type: "list" })), "[1")).toEqual({ ok: false, error: "not valid JSON" });
  });
});

describe("schema forms (interrupts, new sessions)", () => {
  it("makes one field per property, required first", () => {
    const fields = schemaFields({
      type: "object",
      properties: { comment: { type: "string" }, decision: { enum: ["approve", "reject"] } },
      required: ["decision"],
    });
    expect(fields.map((f) => [f.name, f.control, f.required])).toEqual([
      ["decision", "select", true],
      ["comment", "text", false],
    ]);
  });

  it("makes one field for a schema that is not an object", () => {
    const [f] = schemaFields({ type: "integer", minimum: 1, maximum: 10 });
    expect(f).toMatchObject({ name: "", control: "number", integer: true, min: 1, max: 10 });
    expect(assemble([f!], { "": "7" })).toEqual({ ok: true, value: 7 });
    expect(assemble([f!], { "": "" })).toEqual({ ok: false, errors: { "": "required" } });
  });

  it("edits a list of strings one per line", () => {
    const [f] = schemaFields({ type: "object", properties: { q: { type: "array", items: { type: "string" } } }, required: ["q"] });
    expect(f!.control).toBe("lines");
    expect(formatField(f!, ["a", "b"])).toBe("a\nb");
    expect(assemble([f!], { q: "a\n\n b \n" })).toEqual({ ok: true, value: { q: ["a", "b"] } });
  });

  it("leaves out empty optional fields", () => {
    const fields = schemaFields({ type: "object", properties: { a: { type: "string" }, b: { type: "number" } }, required: ["a"] });
    expect(assemble(fields, { a: "x", b: "" })).toEqual({ ok: true, value: { a: "x" } });
  });

  it("reads the problems of a clew error body", () => {
    expect(serverProblems({ detail: "bad", errors: [{ path: "$.n", message: "too big" }] })).toEqual(["$.n: too big"]);
    expect(serverProblems({ detail: "the answer does not match" })).toEqual(["the answer does not match"]);
    expect(serverProblems(null)).toEqual([]);
  });
});

describe("modes from graph input schemas", () => {
  it("tells research, chat and other graphs apart", () => {
    const research = modeOf("research", "id1", { type: "object", properties: { question: { type: "string" }, source_mode: { type: "string" }, messages: {} } });
    expect(research.kind).toBe("question");
    expect(research.fields.map((f) => f.name)).toEqual(["question", "source_mode"]);
    const chat = modeOf("chat", "id2", { type: "object", properties: { messages: { type: "array" } } });
    expect(chat.kind).toBe("messages");
    expect(initialInput(chat, { message: "hi" })).toEqual({ messages: [{ type: "human", content: "hi" }] });
    const data = modeOf("data_query", "id4", { type: "object", properties: { question: { type: "string" }, connection_id: { type: "string" } } });
    expect(data.fields.map((f) => [f.name, f.control])).toEqual([["question", "textarea"], ["connection_id", "text"]]);
    const other = modeOf("hitl_kinds", "id3", { type: "object", properties: { kind: { type: "string" } } });
    expect(other.kind).toBe("fields");
    expect(other.fields[0]!.name).toBe("kind");
  });
});
