// The official LangGraph SDK client for the Agent Server protocol routes, pointed at the serving origin. Its
// fetch is authFetch: every call carries the signed-in user's current credentials (a fresh access token as
// Authorization: Bearer, or the API key), a 401 refreshes once and retries, and a lasting 401 brings the
// sign-in form back.

import { Client } from "@langchain/langgraph-sdk";
import { authFetch } from "./auth";

export const apiUrl = typeof window === "undefined" ? "http://127.0.0.1:2024" : window.location.origin;

export const callerOptions = { fetch: authFetch, maxRetries: 2 };

export function sdkClient(): Client {
  return new Client({ apiUrl, apiKey: null, callerOptions });
}
