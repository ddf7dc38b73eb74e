// Form generation: the settings screen from clew's setting definitions, the interrupt dialogs and the
// new-session form from JSON schemas. Each field says which control shows it and how typed text becomes a
// value; the server stays the judge (its 422s are shown inline), this only catches what a control cannot.

import type { JsonSchema, SettingDefinition } from "../api/clew";

export type Control = "checkbox" | "number" | "select" | "text" | "textarea" | "password" | "json" | "lines";

export interface Field {
  /** property name, or "" for a schema whose whole value is one field */
  name: string;
  label: string;
  control: Control;
  required: boolean;
  options?: unknown[];
  min?: number;
  max?: number;
  step?: number;
  pattern?: string;
  description?: string;
  integer?: boolean;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** The field of one setting definition. */
export function settingField(d: SettingDefinition): Field {
  const base = { name: d.key, label: d.key, required: false, description: d.description };
  if (d.secret) return { ...base, control: "password" };
  switch (d.type) {
    case "boolean":
      return { ...base, control: "checkbox" };
    case "integer":
    case "number":
      return {
        ...base,
        control: "number",
        min: d.minimum ?? undefined,
        max: d.maximum ?? undefined,
        step: d.type === "integer" ? 1 : undefined,
        integer: d.type === "integer",
      };
    case "enum":
      return { ...base, control: "select", options: d.options ?? [] };
    case "string":
      return d.options ? { ...base, control: "select", options: d.options } : { ...base, control: "text", pattern: d.pattern ?? undefined };
    default:
      return { ...base, control: "json" };
  }
}

/** Settings grouped by category, in the server's category order. */
export function settingsByCategory(
  categories: { code: string; name: string; keys: string[] }[],
  definitions: SettingDefinition[],
): { code: string; name: string; fields: { definition: SettingDefinition; field: Field }[] }[] {
  const byKey = new Map(definitions.map((d) => [d.key, d]));
  return categories
    .map((c) => ({
      code: c.code,
      name: c.name,
      fields: c.keys.flatMap((k) => {
        const d = byKey.get(k);
        return d ? [{ definition: d, field: settingField(d) }] : [];
      }),
    }))
    .filter((c) => c.fields.length > 0);
}

function typeOf(s: JsonSchema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== "null");
  return s.type;
}

/** The field that edits a value of schema `s`. */
export function schemaField(name: string, s: JsonSchema, required: boolean): Field {
  const label = s.title ?? name;
  const base = { name, label, required, description: s.description };
  if (Array.isArray(s.enum)) return { ...base, control: "select", options: s.enum };
  const t = typeOf(s);
  if (t === "boolean") return { ...base, control: "checkbox" };
  if (t === "integer" || t === "number")
    return { ...base, control: "number", min: s.minimum, max: s.maximum, integer: t === "integer", step: t === "integer" ? 1 : undefined };
  if (t === "string")
    return { ...base, control: (s.maxLength ?? 0) > 200 ? "textarea" : "text", pattern: s.pattern };
  if (t === "array" && s.items && typeOf(s.items) === "string") return { ...base, control: "lines" };
  return { ...base, control: "json" };
}

/** Fields of an object schema (one per property), or one field for the whole value of any other schema. */
export function schemaFields(schema: JsonSchema | null | undefined): Field[] {
  if (!schema) return [{ name: "", label: "", control: "json", required: true }];
  if (typeOf(schema) === "object" && schema.properties) {
    const req = new Set(schema.required ?? []);
    const fields = Object.entries(schema.properties).map(([k, s]) => schemaField(k, s, req.has(k)));
    return [...fields.filter((f) => f.required), ...fields.filter((f) => !f.required)];
  }
  return [schemaField("", schema, true)];
}

/** Typed text (or a checkbox's state) to a value; empty optional fields are `undefined` (left out). */
export function parseField(f: Field, raw: string | boolean): Parsed {
  if (f.control === "checkbox") return { ok: true, value: Boolean(raw) };
  const text = String(raw);
  if (text.trim() === "") {
    return f.required ? { ok: false, error: "required" } : { ok: true, value: undefined };
  }
  switch (f.control) {
    case "number": {
      const n = Number(text);
      if (!Number.isFinite(n)) return { ok: false, error: "not a number" };
      if (f.integer && !Number.isInteger(n)) return { ok: false, error: "not an integer" };
      return { ok: true, value: n };
    }
    case "select": {
      const opt = (f.options ?? []).find((o) => String(o) === text);
      return opt === undefined ? { ok: false, error: "not an option" } : { ok: true, value: opt };
    }
    case "lines": {
      const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
      return lines.length || !f.required ? { ok: true, value: lines } : { ok: false, error: "required" };
    }
    case "json":
      try {
        return { ok: true, value: JSON.parse(text) };
      } catch {
        return { ok: false, error: "not valid JSON" };
      }
    default:
      return { ok: true, value: text };
  }
}

/** A value as the text its control shows. */
export function formatField(f: Field, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (f.control === "json") return JSON.stringify(value, null, 2);
  if (f.control === "lines" && Array.isArray(value)) return value.map(String).join("\n");
  return String(value);
}

/** Assemble an answer from fields and their raw inputs: `{errors}` per field name, or the value. */
export function assemble(
  fields: Field[],
  raw: Record<string, string | boolean>,
): { ok: true; value: unknown } | { ok: false; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const p = parseField(f, raw[f.name] ?? (f.control === "checkbox" ? false : ""));
    if (!p.ok) errors[f.name] = p.error;
    else if (f.name === "") return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: p.value };
    else if (p.value !== undefined) out[f.name] = p.value;
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: out };
}

/** Problems named by a clew 422 body (`errors: [{path, message}]` or `message`), for display inline. */
export function serverProblems(body: unknown): string[] {
  if (body == null || typeof body !== "object") return [];
  const b = body as { message?: unknown; errors?: unknown; detail?: unknown };
  const list = Array.isArray(b.errors) ? b.errors : Array.isArray(b.detail) ? b.detail : [];
  const items = list.flatMap((e) => {
    if (e == null || typeof e !== "object") return [];
    const o = e as { path?: unknown; loc?: unknown; message?: unknown; msg?: unknown };
    const where = typeof o.path === "string" ? o.path : Array.isArray(o.loc) ? o.loc.join(".") : "";
    const what = String(o.message ?? o.msg ?? "");
    return [where ? `${where}: ${what}` : what];
  });
  if (items.length) return items;
  if (typeof b.detail === "string") return [b.detail];
  return typeof b.message === "string" ? [b.message] : [];
}
