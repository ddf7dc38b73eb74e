// A small typed client for clew's own routes (todos, settings, knowledge base, research export). The Agent
// Server protocol (threads, runs, streams) goes through @langchain/langgraph-sdk instead. The routes used
// here are listed in routes.json, which a server test checks against /openapi.json.

import { authFetch, authHeaders, ensureFresh, markUnauthorized } from "./auth";

/** An error body of clew (api/errors.py): {error, message, ...details}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export interface Todo {
  todo_id: string;
  thread_id: string;
  run_id: string | null;
  graph_id: string | null;
  kind: "approval" | "input" | "selection" | "todos";
  message: string;
  data: Record<string, unknown>;
  options: unknown[];
  schema: JsonSchema | null;
  status: "pending" | "completed" | "cancelled";
  result: unknown;
  created_at: string;
  overdue: boolean;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  items?: JsonSchema;
  title?: string;
  description?: string;
  default?: unknown;
  anyOf?: JsonSchema[];
  [k: string]: unknown;
}

export type SettingType = "string" | "integer" | "number" | "boolean" | "enum" | "list" | "json" | string;

export interface SettingDefinition {
  key: string;
  category: string;
  type: SettingType;
  default: unknown;
  minimum: number | null;
  maximum: number | null;
  pattern: string | null;
  options: unknown[] | null;
  scope: "system" | "user" | "session";
  secret: boolean;
  description: string;
  user_editable: boolean;
  session_editable: boolean;
}

export interface Definitions {
  schema_version: number;
  categories: { code: string; name: string; description: string; keys: string[] }[];
  definitions: SettingDefinition[];
}

export interface UserSettings {
  user_id: string;
  version: number;
  values: Record<string, unknown>;
  sources: Record<string, string>;
  overrides: Record<string, unknown>;
  editable: string[];
}

export interface ThreadConfig {
  version: number;
  /** the session layer: what this thread sets itself */
  config: Record<string, unknown>;
  values: Record<string, unknown>;
  sources: Record<string, string>;
}

export interface SettingsVersion {
  version: number;
  action: string;
  changed_by: string | null;
  changed_at: string;
  changes: { key: string; old_value: unknown; new_value: unknown; new_inherited: boolean }[];
}

export interface KnowledgeDocument {
  document_id: string;
  filename: string;
  content_type: string;
  size_bytes: number;
  status: string;
  error: string | null;
  chunk_count: number;
  title: string | null;
  created_at: string;
}

export interface SearchHit {
  document_id: string;
  chunk_id: string;
  text: string;
  score: number;
  title: string | null;
  source: string;
  url: string | null;
}

async function failure(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  const b = (body ?? {}) as { error?: string; message?: string; detail?: unknown };
  const message = b.message ?? (typeof b.detail === "string" ? b.detail : res.statusText);
  return new ApiError(res.status, b.error ?? String(res.status), message, body);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await authFetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

const enc = encodeURIComponent;

export const clew = {
  todos: (status: "pending" | "completed" | "cancelled" = "pending") =>
    request<Todo[]>("GET", `/todos?status=${status}&limit=200`),
  completeTodo: (id: string, result: unknown) =>
    request<Todo>("POST", `/todos/${enc(id)}/complete`, { result }),
  cancelTodo: (id: string) => request<Todo>("POST", `/todos/${enc(id)}/cancel`),

  definitions: () => request<Definitions>("GET", "/api/v1/config/definitions"),
  settings: () => request<UserSettings>("GET", "/api/v1/users/settings"),
  setSetting: (key: string, value: unknown) =>
    request<unknown>("PUT", `/api/v1/users/settings/${enc(key)}`, { value }),
  resetSetting: (key: string) => request<unknown>("DELETE", `/api/v1/users/settings/${enc(key)}`),
  settingsHistory: () => request<SettingsVersion[]>("GET", "/api/v1/users/settings/history?limit=20"),
  rollbackSettings: (version: number) =>
    request<unknown>("POST", "/api/v1/users/settings/rollback", { version }),

  threadConfig: (threadId: string) => request<ThreadConfig>("GET", `/threads/${enc(threadId)}/config`),
  /** Replace the thread's session layer (keys left out inherit again). */
  putThreadConfig: (threadId: string, config: Record<string, unknown>) =>
    request<ThreadConfig>("PUT", `/threads/${enc(threadId)}/config`, config),

  documents: () =>
    request<{ documents: KnowledgeDocument[]; total: number }>("GET", "/api/v1/knowledge/documents"),
  deleteDocument: (id: string) => request<unknown>("DELETE", `/api/v1/knowledge/documents/${enc(id)}`),
  search: (query: string) =>
    request<{ query: string; results: SearchHit[] }>("POST", "/api/v1/knowledge/search", { query, k: 8 }),

  /** Upload one file (multipart field `file`), reporting progress as a fraction in [0, 1]. */
  async upload(file: File, onProgress: (fraction: number) => void): Promise<KnowledgeDocument> {
    await ensureFresh(); // XMLHttpRequest (for upload progress) does not go through authFetch
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/knowledge/upload");
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(body as KnowledgeDocument);
        } else {
          if (xhr.status === 401) markUnauthorized();
          const b = (body ?? {}) as { error?: string; message?: string };
          reject(new ApiError(xhr.status, b.error ?? String(xhr.status), b.message ?? xhr.statusText, body));
        }
      };
      xhr.onerror = () => reject(new ApiError(0, "network", "network error", null));
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  },

  /** Download a research report as md, pdf or docx (fetched with the credentials, saved through a link). */
  async exportReport(threadId: string, fmt: "md" | "pdf" | "docx"): Promise<void> {
    const res = await authFetch(`/api/v1/research/${enc(threadId)}/export/${fmt}`);
    if (!res.ok) throw await failure(res);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `report-${threadId.slice(0, 8)}.${fmt}`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  },
};
