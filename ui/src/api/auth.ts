// Credentials of the signed-in user, kept in session storage (gone when the tab closes), never in local
// storage: either an API key (sent as x-api-key) or clew's access + refresh tokens from
// POST /api/v1/auth/login (docs/operations.md "Accounts"; the access token is sent as Authorization: Bearer).
// authFetch refreshes the access token a minute before it expires, and on a 401 refreshes once and retries
// once; a failed refresh signs out (the sign-in form returns). Refreshing rotates: the old refresh token is
// spent, so concurrent callers share one refresh in flight.

const KEY = "clew.apiKey";
const TOKENS = "clew.tokens";
/** refresh this long before the access token's expiry (ms) */
export const REFRESH_MARGIN_MS = 60_000;

export interface Tokens {
  access_token: string;
  refresh_token: string;
  /** epoch milliseconds when the access token expires */
  expires_at: number;
}

type Listener = () => void;
const listeners = new Set<Listener>();
let unauthorized = false;
let refreshing: Promise<boolean> | null = null;
/** the fetch used for the auth routes and the retried requests (replaced in tests) */
let baseFetch: typeof fetch = (...a) => fetch(...a);

export function setBaseFetch(f: typeof fetch): void {
  baseFetch = f;
}

function read(name: string): string | undefined {
  try {
    return sessionStorage.getItem(name) ?? undefined;
  } catch {
    return undefined;
  }
}

function write(name: string, value: string | undefined): void {
  try {
    if (value) sessionStorage.setItem(name, value);
    else sessionStorage.removeItem(name);
  } catch {
    /* storage unavailable: credentials last for this page only */
  }
}

function notify(): void {
  listeners.forEach((l) => l());
}

export function apiKey(): string | undefined {
  return read(KEY);
}

export function tokens(): Tokens | undefined {
  const raw = read(TOKENS);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as Tokens;
  } catch {
    return undefined;
  }
}

export function hasCredentials(): boolean {
  return Boolean(apiKey() || tokens());
}

export function setApiKey(key: string | undefined): void {
  write(TOKENS, undefined);
  write(KEY, key);
  unauthorized = false;
  notify();
}

export function setTokens(t: Tokens | undefined): void {
  write(KEY, undefined);
  write(TOKENS, t ? JSON.stringify(t) : undefined);
  if (t) unauthorized = false;
  notify();
}

/** Called on every 401 that a refresh could not cure: the page shows the sign-in form until credentials are set. */
export function markUnauthorized(): void {
  if (unauthorized) return;
  unauthorized = true;
  notify();
}

export function isUnauthorized(): boolean {
  return unauthorized;
}

export function onAuthChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function authHeaders(): Record<string, string> {
  const t = tokens();
  if (t) return { authorization: `Bearer ${t.access_token}` };
  const key = apiKey();
  return key ? { "x-api-key": key } : {};
}

/** The server's explanation of a failed response: its JSON `detail`/`message`, else the status text. */
export async function errorMessage(res: Response): Promise<string> {
  try {
    const b = (await res.json()) as { detail?: unknown; message?: unknown };
    if (typeof b.message === "string") return b.message;
    if (typeof b.detail === "string") return b.detail;
    if (Array.isArray(b.detail)) return b.detail.map((d) => (d as { msg?: string }).msg ?? String(d)).join("; ");
  } catch {
    /* not JSON */
  }
  return `${res.status} ${res.statusText}`.trim();
}

function tokensFrom(body: { access_token: string; refresh_token: string; expires_in: number }): Tokens {
  return { access_token: body.access_token, refresh_token: body.refresh_token, expires_at: Date.now() + body.expires_in * 1000 };
}

async function postJson(path: string, body: unknown): Promise<Response> {
  return baseFetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** Sign in with a username (or e-mail used as one) and password; throws Error(server's message) on failure. */
export async function login(username: string, password: string): Promise<void> {
  const res = await postJson("/api/v1/auth/login", { username, password });
  if (!res.ok) throw new Error(await errorMessage(res));
  setTokens(tokensFrom(await res.json()));
}

/** Sign in with an API key after the server accepted it (GET /api/v1/auth/me); throws the server's message. */
export async function signInWithKey(key: string): Promise<void> {
  const res = await baseFetch("/api/v1/auth/me", { headers: { "x-api-key": key } });
  if (!res.ok) throw new Error(await errorMessage(res));
  setApiKey(key);
}

/** Exchange the refresh token for a new pair (single flight); false (and signed out) when the server refuses. */
export function refresh(): Promise<boolean> {
  if (refreshing) return refreshing;
  const current = tokens();
  if (!current) return Promise.resolve(false);
  refreshing = (async () => {
    try {
      const res = await postJson("/api/v1/auth/refresh", { refresh_token: current.refresh_token });
      if (!res.ok) {
        if (res.status === 401 || res.status === 400 || res.status === 422) {
          write(TOKENS, undefined);
          markUnauthorized();
        }
        return false;
      }
      setTokens(tokensFrom(await res.json()));
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** Refresh now when the access token expires within REFRESH_MARGIN_MS. */
export async function ensureFresh(): Promise<void> {
  const t = tokens();
  if (t && t.expires_at - Date.now() < REFRESH_MARGIN_MS) await refresh();
}

/** Sign out: revoke the refresh token's family on the server (POST /api/v1/auth/logout), forget the credentials. */
export async function logout(): Promise<void> {
  const t = tokens();
  setApiKey(undefined);
  markUnauthorized();
  if (t) await postJson("/api/v1/auth/logout", { refresh_token: t.refresh_token }).catch(() => undefined);
}

function withAuth(init: RequestInit | undefined): RequestInit {
  const headers = new Headers(init?.headers);
  headers.delete("x-api-key");
  headers.delete("authorization");
  for (const [k, v] of Object.entries(authHeaders())) headers.set(k, v);
  return { ...init, headers };
}

/**
 * fetch with the current credentials: a fresh access token (refreshed before expiry), and on a 401 with
 * tokens one refresh and one retry; a 401 that stays brings the sign-in form back.
 */
export const authFetch: typeof fetch = async (input, init) => {
  await ensureFresh();
  const usedTokens = Boolean(tokens());
  let res = await baseFetch(input, withAuth(init));
  if (res.status === 401 && usedTokens && (await refresh())) res = await baseFetch(input, withAuth(init));
  if (res.status === 401) markUnauthorized();
  return res;
};
