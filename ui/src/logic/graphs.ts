// The research modes the server offers, read from its assistants (one system assistant per graph in
// langgraph.json, so modes added by new graphs appear without a UI change), and how each takes its input.

import type { JsonSchema } from "../api/clew";
import { schemaField, type Field } from "./forms";

export type InputKind = "question" | "messages" | "fields";

export interface GraphMode {
  graphId: string;
  assistantId: string;
  label: string;
  kind: InputKind;
  fields: Field[];
}

export const SOURCE_MODES = ["web", "local", "hybrid"];

/** How a graph with this input schema starts, and the fields of its new-session form. */
export function modeOf(graphId: string, assistantId: string, input: JsonSchema | null | undefined): GraphMode {
  const props = input?.properties ?? {};
  const required = new Set(input?.required ?? []);
  const label = graphId.replace(/_/g, " ");
  const field = (k: string): Field =>
    k === "source_mode"
      ? { name: k, label: "source", control: "select", required: required.has(k), options: SOURCE_MODES }
      : schemaField(k, props[k]!, required.has(k));
  const rest = Object.keys(props).filter((k) => k !== "messages" && k !== "question");
  if ("question" in props) {
    const fields: Field[] = [{ name: "question", label: "question", control: "textarea", required: true }, ...rest.map(field)];
    return { graphId, assistantId, label, kind: "question", fields };
  }
  if ("messages" in props) {
    return { graphId, assistantId, label, kind: "messages", fields: [{ name: "message", label: "message", control: "textarea", required: true }] };
  }
  return { graphId, assistantId, label, kind: "fields", fields: rest.map(field) };
}

/** The run input of a new session from the form's assembled value. */
export function initialInput(mode: GraphMode, value: Record<string, unknown>): Record<string, unknown> {
  if (mode.kind === "messages") return { messages: [{ type: "human", content: String(value.message ?? "") }] };
  return value;
}

/** A session's title: the question or first message, shortened. */
export function titleOf(mode: GraphMode, value: Record<string, unknown>): string {
  const text = String(value.question ?? value.message ?? mode.label);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
