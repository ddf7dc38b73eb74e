import { beforeEach, describe, expect, it } from "vitest";
import { authFetch, isUnauthorized, login, logout, setApiKey, setBaseFetch, setTokens, signInWithKey, tokens } from "./auth";

// a tiny in-memory sessionStorage (the tests run in node)
const store = new Map<string, string>();
(globalThis as { sessionStorage?: unknown }).sessionStorage = {
  getItem: (k: string) => store.get(k) ?? null,
  setItem: (k: string, v: string) => void store.set(k, v),
  removeItem: (k: string) => void store.delete(k),
};

interface Call { url: string; auth: string | null; body: unknown }

function server(handler: (c: Call) => { status: number; body?: unknown }) {
  const calls: Call[] = [];
  setBaseFetch(async (input, init) => {
    const h = new Headers(init?.headers);
    const c: Call = { url: String(input), auth: h.get("authorization") ?? h.get("x-api-key"), body: init?.body ? JSON.parse(String(init.body)) : null };
    calls.push(c);
    const r = handler(c);
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), { status: r.status, statusText: "x" });
  });
  return calls;
}

const pair = (n: number, expiresIn = 900) => ({ access_token: `a${n}`, refresh_token: `r${n}`, token_type: "bearer", expires_in: expiresIn, user_id: "u", role: "user" });

beforeEach(() => {
  store.clear();
  setApiKey(undefined);
});

describe("auth", () => {
  it("signs in with a password and sends the access token", async () => {
    const calls = server((c) => (c.url.endsWith("/login") ? { status: 200, body: pair(1) } : { status: 200, body: {} }));
    await login("alice@example.org", "pw");
    expect(calls[0]!.body).toEqual({ username: "alice@example.org", password: "pw" });
    await authFetch("/threads/search", { method: "POST", headers: { "x-api-key": "stale" } });
    expect(calls[1]!.auth).toBe("Bearer a1");
    expect(isUnauthorized()).toBe(false);
  });

  it("shows the server's message for a wrong password or key", async () => {
    server(() => ({ status: 401, body: { error: "unauthorized", detail: "wrong username or password" } }));
    await expect(login("alice", "bad")).rejects.toThrow("wrong username or password");
    await expect(signInWithKey("nope")).rejects.toThrow("wrong username or password");
    expect(tokens()).toBeUndefined();
  });

  it("refreshes before expiry, with rotation", async () => {
    const calls = server((c) => (c.url.endsWith("/refresh") ? { status: 200, body: pair(2) } : { status: 200, body: {} }));
    setTokens({ access_token: "a1", refresh_token: "r1", expires_at: Date.now() + 10_000 });
    await authFetch("/x");
    expect(calls.map((c) => c.url)).toEqual(["/api/v1/auth/refresh", "/x"]);
    expect(calls[0]!.body).toEqual({ refresh_token: "r1" });
    expect(calls[1]!.auth).toBe("Bearer a2");
    expect(tokens()!.refresh_token).toBe("r2");
  });

  it("on a 401 refreshes once and retries once", async () => {
    const calls = server((c) => {
      if (c.url.endsWith("/refresh")) return { status: 200, body: pair(2) };
      return c.auth === "Bearer a2" ? { status: 200, body: {} } : { status: 401, body: { detail: "expired" } };
    });
    setTokens({ access_token: "a1", refresh_token: "r1", expires_at: Date.now() + 600_000 });
    const res = await authFetch("/x");
    expect(res.status).toBe(200);
    expect(calls.map((c) => `${c.url} ${c.auth}`)).toEqual(["/x Bearer a1", "/api/v1/auth/refresh null", "/x Bearer a2"]);
  });

  it("a failed refresh signs out", async () => {
    const calls = server((c) => (c.url.endsWith("/refresh") ? { status: 401, body: { error: "refresh_reused" } } : { status: 401 }));
    setTokens({ access_token: "a1", refresh_token: "r1", expires_at: Date.now() + 600_000 });
    const res = await authFetch("/x");
    expect(res.status).toBe(401);
    expect(calls.length).toBe(2);
    expect(isUnauthorized()).toBe(true);
    expect(tokens()).toBeUndefined();
  });

  it("sign-out revokes the refresh token", async () => {
    const calls = server(() => ({ status: 204 }));
    setTokens({ access_token: "a1", refresh_token: "r1", expires_at: Date.now() + 600_000 });
    await logout();
    expect(calls[0]!.url).toBe("/api/v1/auth/logout");
    expect(calls[0]!.body).toEqual({ refresh_token: "r1" });
    expect(tokens()).toBeUndefined();
    expect(isUnauthorized()).toBe(true);
  });
});
