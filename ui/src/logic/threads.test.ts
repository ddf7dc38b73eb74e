import { describe, expect, it } from "vitest";
import { firstHumanText, sessionTitle } from "./threads";

const id = "0123abcd-0000-4000-8000-000000000000";

describe("sessionTitle", () => {
  it("prefers the title in metadata", () => {
    expect(sessionTitle({ thread_id: id, metadata: { title: "Mine", graph_id: "chat" }, values: { question: "Q?" } })).toBe("Mine");
  });
  it("uses the question in the values of a session started through the SDK", () => {
    expect(sessionTitle({ thread_id: id, metadata: { graph_id: "research" }, values: { question: "Why is the sky blue?" } }))
      .toBe("Why is the sky blue?");
  });
  it("uses the first human message", () => {
    const values = { messages: [{ type: "system", content: "sys" }, { type: "ai", content: "hi" }, { type: "human", content: [{ type: "text", text: "Tell me" }] }, { type: "human", content: "later" }] };
    expect(sessionTitle({ thread_id: id, metadata: { graph_id: "chat" }, values })).toBe("Tell me");
  });
  it("shortens long text", () => {
    const t = sessionTitle({ thread_id: id, values: { question: "x".repeat(200) } });
    expect(t.length).toBe(80);
    expect(t.endsWith("…")).toBe(true);
  });
  it("falls back to graph and id", () => {
    expect(sessionTitle({ thread_id: id, metadata: { graph_id: "chat" }, values: {} })).toBe("chat 0123abcd");
    expect(sessionTitle({ thread_id: id, metadata: null, values: null })).toBe("session 0123abcd");
  });
  it("reads OpenAI-style messages", () => {
    expect(firstHumanText([{ role: "user", content: "hello" }])).toBe("hello");
    expect(firstHumanText("nope")).toBeNull();
  });
});
