// The official LangGraph SDK client for the Agent Server protocol routes, pointed at the serving origin and
// carrying the signed-in user's API key; a 401 from any call brings the sign-in form back.

import { Client } from "@langchain/langgraph-sdk";
import { apiKey, markUnauthorized } from "./auth";

export const apiUrl = typeof window === "undefined" ? "http://127.0.0.1:2024" : window.location.origin;

const watchedFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (res.status === 401) markUnauthorized();
  return res;
};

export const callerOptions = { fetch: watchedFetch, maxRetries: 2 };

export function sdkClient(): Client {
  return new Client({ apiUrl, apiKey: apiKey() ?? null, callerOptions });
}
