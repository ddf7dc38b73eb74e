// Markdown of model output, rendered safely: react-markdown builds React elements (raw HTML in the text is
// shown as text, never parsed), links open only for http(s), ```vega-lite blocks become charts, and
// `#cite-n` links (logic/citations.ts) become buttons that open the cited source.

import ReactMarkdown, { type Components } from "react-markdown";
import { safeUrl } from "../logic/citations";
import { VegaChart } from "./VegaChart";

export function Markdown(props: { text: string; onCite?: (n: number) => void }) {
  const components: Components = {
    a({ href, children }) {
      const cite = href?.match(/^#cite-(\d+)$/);
      if (cite && props.onCite) {
        const n = Number(cite[1]);
        return (
          <button type="button" className="cite" onClick={() => props.onCite?.(n)} aria-label={`source ${n}`}>
            {children}
          </button>
        );
      }
      const url = href ? safeUrl(href) : null;
      return url ? <a href={url} target="_blank" rel="noreferrer noopener">{children}</a> : <span>{children}</span>;
    },
    img({ alt }) {
      return <span className="img-alt">{alt}</span>;
    },
    code({ className, children }) {
      if (className === "language-vega-lite" || className === "language-vega") {
        try {
          return <VegaChart spec={JSON.parse(String(children))} />;
        } catch {
          /* not JSON: show as code */
        }
      }
      return <code className={className}>{children}</code>;
    },
  };
  return (
    <div className="markdown">
      <ReactMarkdown skipHtml components={components}>{props.text}</ReactMarkdown>
    </div>
  );
}
