// A chart from a Vega-Lite spec, drawn by vega-embed (loaded on first use, so pages without charts do not
// download Vega). Expressions run through vega-interpreter, so the page needs no 'unsafe-eval' in its CSP.

import { useEffect, useRef, useState } from "react";

export function VegaChart(props: { spec: unknown; title?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    let finalize: (() => void) | undefined;
    (async () => {
      try {
        const [{ default: embed }, { expressionInterpreter }] = await Promise.all([
          import("vega-embed"),
          import("vega-interpreter"),
        ]);
        if (cancelled || !ref.current) return;
        const theme = document.documentElement.dataset.theme;
        const dark = theme === "dark" || (theme !== "light" && window.matchMedia?.("(prefers-color-scheme: dark)").matches);
        const result = await embed(ref.current, props.spec as never, {
          ...(dark ? { theme: "dark" as const } : {}),
          ast: true,
          expr: expressionInterpreter,
          actions: false,
          renderer: "svg",
        });
        finalize = () => result.finalize();
      } catch (e) {
        if (!cancelled) setError(String(e));
      }
    })();
    return () => {
      cancelled = true;
      finalize?.();
    };
  }, [props.spec]);
  return (
    <figure className="chart" aria-label={props.title ?? "chart"}>
      <div ref={ref} />
      {error && <figcaption className="error">{error}</figcaption>}
    </figure>
  );
}
